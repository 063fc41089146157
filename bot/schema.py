"""pmbot's database schema, as the migrations that build it, oldest first.

`Store.migrate()` applies the ones a database has not seen (tracked in `PRAGMA user_version`).
"""

# Each entry moves the schema one version on; never edit one that has shipped, append a new one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE measures (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        area TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        limitations TEXT NOT NULL DEFAULT '',
        source TEXT NOT NULL DEFAULT '',
        unit TEXT NOT NULL,
        better TEXT NOT NULL,
        target REAL NOT NULL,
        amber_tolerance TEXT NOT NULL DEFAULT '',
        red_tolerance TEXT NOT NULL DEFAULT '',
        frequency TEXT NOT NULL DEFAULT 'monthly',
        owner_email TEXT NOT NULL,
        deputy_email TEXT NOT NULL DEFAULT '',
        active INTEGER NOT NULL DEFAULT 1,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE people (
        email TEXT PRIMARY KEY,
        name TEXT NOT NULL DEFAULT '',
        slack_user_id TEXT,
        roles TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE submissions (
        id INTEGER PRIMARY KEY,
        measure_id TEXT NOT NULL REFERENCES measures(id),
        period TEXT NOT NULL,
        value REAL,
        status TEXT NOT NULL CHECK (status IN ('value', 'not_available')),
        reason TEXT NOT NULL DEFAULT '',
        commentary TEXT NOT NULL DEFAULT '',
        submitted_by TEXT NOT NULL,
        channel TEXT NOT NULL CHECK (channel IN ('slack', 'email', 'cli', 'import')),
        source_ref TEXT NOT NULL UNIQUE,
        received_at TEXT NOT NULL
    );
    CREATE INDEX submissions_by_period ON submissions (period, measure_id, id);
    CREATE INDEX submissions_by_measure ON submissions (measure_id, period, id);
    CREATE TRIGGER submissions_are_append_only_update BEFORE UPDATE ON submissions
    BEGIN SELECT RAISE(ABORT, 'submissions are append-only: add a correction instead'); END;
    CREATE TRIGGER submissions_are_append_only_delete BEFORE DELETE ON submissions
    BEGIN SELECT RAISE(ABORT, 'submissions are append-only: nothing is ever deleted'); END;
    CREATE TABLE ledger (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        at TEXT NOT NULL,
        transport_ref TEXT NOT NULL DEFAULT '',
        UNIQUE (kind, key)
    );
    CREATE TABLE inbound (
        id INTEGER PRIMARY KEY,
        message_id TEXT NOT NULL UNIQUE,
        channel TEXT NOT NULL,
        sender TEXT NOT NULL DEFAULT '',
        subject TEXT NOT NULL DEFAULT '',
        received_at TEXT NOT NULL,
        outcome TEXT NOT NULL CHECK (outcome IN ('stored', 'rejected', 'ignored')),
        reason TEXT NOT NULL DEFAULT ''
    );
    """,
    # 2: the outbox. A message is queued in the same transaction as the decision to send it,
    # then delivered; a failed delivery stays queued and is retried, so nothing is lost.
    """
    CREATE TABLE outgoing (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        key TEXT NOT NULL UNIQUE,
        recipients TEXT NOT NULL,
        message_id TEXT NOT NULL,
        message BLOB NOT NULL,
        created_at TEXT NOT NULL,
        sent_at TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT NOT NULL DEFAULT '',
        failed INTEGER NOT NULL DEFAULT 0,
        transport_ref TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX outgoing_pending ON outgoing (id) WHERE sent_at IS NULL AND failed = 0;
    """,
    # 3: the ledger knows each action's cycle, so a tick reads one cycle's rows, not them all.
    """
    ALTER TABLE ledger ADD COLUMN cycle TEXT NOT NULL DEFAULT '';
    CREATE INDEX ledger_by_cycle ON ledger (cycle);
    """,
    # 4: a measure's targets over time and its rebases, as JSON lists (bot.targets.to_plain).
    # `targets` is authoritative once written; '' marks a row from before, whose `target`
    # column is its only target. `target` stays NOT NULL (SQLite cannot relax it without
    # rebuilding a table that submissions reference), so a monitored measure stores 0 there.
    """
    ALTER TABLE measures ADD COLUMN targets TEXT NOT NULL DEFAULT '';
    ALTER TABLE measures ADD COLUMN rebase TEXT NOT NULL DEFAULT '[]';
    """,
    # 5: figures held back as implausible ("did you mean...?"), kept so that nothing is lost:
    # coordinators see those never confirmed or corrected, and the same figure sent again by
    # the same person confirms it.
    """
    CREATE TABLE queried (
        id INTEGER PRIMARY KEY,
        measure_id TEXT NOT NULL,
        period TEXT NOT NULL,
        value REAL NOT NULL,
        raw TEXT NOT NULL,
        why TEXT NOT NULL,
        submitted_by TEXT NOT NULL,
        channel TEXT NOT NULL,
        received_at TEXT NOT NULL
    );
    CREATE INDEX queried_by_measure ON queried (measure_id, period, submitted_by);
    """,
    # 6: chat ids keyed by transport (Slack, Teams...), so the people table knows no chat's name
    # and a person can be in two chats. '' records that the transport does not know them. The
    # alert lifecycle's ledger kinds get their transport's prefix (email has one of its own now).
    """
    CREATE TABLE chat_ids (
        transport TEXT NOT NULL,
        email TEXT NOT NULL REFERENCES people(email),
        chat_id TEXT NOT NULL,
        PRIMARY KEY (transport, email)
    );
    CREATE INDEX chat_ids_by_id ON chat_ids (transport, chat_id);
    INSERT INTO chat_ids (transport, email, chat_id)
        SELECT 'slack', email, slack_user_id FROM people WHERE slack_user_id IS NOT NULL;
    ALTER TABLE people DROP COLUMN slack_user_id;
    UPDATE ledger SET kind = 'slack-' || kind
        WHERE kind IN ('alert-window', 'alert', 'alert-clear');
    """,
    # 7: a submission's channel is any transport's name (Teams now), so the schema names none.
    # SQLite cannot drop a CHECK in place: the table is rebuilt, its rows copied as they are.
    """
    CREATE TABLE submissions_new (
        id INTEGER PRIMARY KEY,
        measure_id TEXT NOT NULL REFERENCES measures(id),
        period TEXT NOT NULL,
        value REAL,
        status TEXT NOT NULL CHECK (status IN ('value', 'not_available')),
        reason TEXT NOT NULL DEFAULT '',
        commentary TEXT NOT NULL DEFAULT '',
        submitted_by TEXT NOT NULL,
        channel TEXT NOT NULL,
        source_ref TEXT NOT NULL UNIQUE,
        received_at TEXT NOT NULL
    );
    INSERT INTO submissions_new (id, measure_id, period, value, status, reason, commentary,
                                 submitted_by, channel, source_ref, received_at)
        SELECT id, measure_id, period, value, status, reason, commentary, submitted_by,
               channel, source_ref, received_at FROM submissions;
    DROP TRIGGER submissions_are_append_only_update;
    DROP TRIGGER submissions_are_append_only_delete;
    DROP TABLE submissions;
    ALTER TABLE submissions_new RENAME TO submissions;
    CREATE INDEX submissions_by_period ON submissions (period, measure_id, id);
    CREATE INDEX submissions_by_measure ON submissions (measure_id, period, id);
    CREATE TRIGGER submissions_are_append_only_update BEFORE UPDATE ON submissions
    BEGIN SELECT RAISE(ABORT, 'submissions are append-only: add a correction instead'); END;
    CREATE TRIGGER submissions_are_append_only_delete BEFORE DELETE ON submissions
    BEGIN SELECT RAISE(ABORT, 'submissions are append-only: nothing is ever deleted'); END;
    """,
    # 8: an inbound message is known by its Message-ID and a fingerprint of its sender and
    # body, since some gateways and phones reuse Message-IDs; and mail that could not be read
    # is recorded as quarantined.
    """
    CREATE TABLE inbound_new (
        id INTEGER PRIMARY KEY,
        message_id TEXT NOT NULL,
        fingerprint TEXT NOT NULL DEFAULT '',
        channel TEXT NOT NULL,
        sender TEXT NOT NULL DEFAULT '',
        subject TEXT NOT NULL DEFAULT '',
        received_at TEXT NOT NULL,
        outcome TEXT NOT NULL
            CHECK (outcome IN ('stored', 'rejected', 'ignored', 'quarantined')),
        reason TEXT NOT NULL DEFAULT '',
        UNIQUE (message_id, fingerprint)
    );
    INSERT INTO inbound_new (id, message_id, channel, sender, subject, received_at, outcome, reason)
        SELECT id, message_id, channel, sender, subject, received_at, outcome, reason FROM inbound;
    DROP TABLE inbound;
    ALTER TABLE inbound_new RENAME TO inbound;
    CREATE INDEX inbound_by_outcome ON inbound (outcome, received_at);
    CREATE INDEX outgoing_by_recipient ON outgoing (recipients, kind, created_at);
    CREATE INDEX outgoing_by_message_id ON outgoing (message_id);
    """,
    # 9: outcome areas from the register's `areas:` list (leads get scorecards; approvers sign off).
    """
    CREATE TABLE areas (
        name TEXT PRIMARY KEY,
        lead_email TEXT NOT NULL,
        approver_email TEXT NOT NULL DEFAULT '',
        description TEXT NOT NULL DEFAULT '',
        updated_at TEXT NOT NULL
    );
    """,
    # 10: reports. How a measure rolls up and whether it is published; whether the owner marked a
    # commentary public (the default is internal).
    """
    ALTER TABLE measures ADD COLUMN aggregate TEXT NOT NULL DEFAULT '';
    ALTER TABLE measures ADD COLUMN public INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE submissions ADD COLUMN public INTEGER NOT NULL DEFAULT 0;
    """,
    # 11: nothing a tick or a reply asks scans a table that grows with age. A reply finds the
    # prompt it answers by Message-ID; a tick finds only the sent mail whose body it still
    # keeps. `register_version` moves whenever the register or people change, so what is
    # built from them (the digest model) can be kept until it does.
    """
    CREATE INDEX ledger_by_ref ON ledger (transport_ref, kind);
    CREATE INDEX outgoing_bodies ON outgoing (sent_at) WHERE length(message) > 0;
    CREATE TABLE register_version (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        version INTEGER NOT NULL
    );
    INSERT INTO register_version VALUES (1, 0);
    CREATE TRIGGER register_version_measure_added AFTER INSERT ON measures
    BEGIN UPDATE register_version SET version = version + 1; END;
    CREATE TRIGGER register_version_measure_changed AFTER UPDATE ON measures
    BEGIN UPDATE register_version SET version = version + 1; END;
    CREATE TRIGGER register_version_person_added AFTER INSERT ON people
    BEGIN UPDATE register_version SET version = version + 1; END;
    CREATE TRIGGER register_version_person_changed AFTER UPDATE ON people
    BEGIN UPDATE register_version SET version = version + 1; END;
    CREATE TRIGGER register_version_measure_removed AFTER DELETE ON measures
    BEGIN UPDATE register_version SET version = version + 1; END;
    CREATE TRIGGER register_version_person_removed AFTER DELETE ON people
    BEGIN UPDATE register_version SET version = version + 1; END;
    """,
    # 12: silences (a measure not chased or alerted on, for a reason, until a day) and sign-off
    # decisions (an area's approver approves or queries its figures before publication). Both
    # are append-only: a silence is changed by a newer one, a decision by a later decision.
    """
    CREATE TABLE silences (
        id INTEGER PRIMARY KEY,
        measure_id TEXT NOT NULL,
        starts TEXT NOT NULL,
        ends TEXT NOT NULL,
        reason TEXT NOT NULL,
        created_by TEXT NOT NULL,
        channel TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX silences_by_measure ON silences (measure_id, id);
    CREATE TRIGGER silences_are_append_only_update BEFORE UPDATE ON silences
    BEGIN SELECT RAISE(ABORT, 'silences are append-only: add a newer one instead'); END;
    CREATE TRIGGER silences_are_append_only_delete BEFORE DELETE ON silences
    BEGIN SELECT RAISE(ABORT, 'silences are append-only: nothing is ever deleted'); END;
    CREATE TABLE signoffs (
        id INTEGER PRIMARY KEY,
        area TEXT NOT NULL,
        cycle TEXT NOT NULL,
        decision TEXT NOT NULL CHECK (decision IN ('approved', 'queried')),
        measure_id TEXT NOT NULL DEFAULT '',
        note TEXT NOT NULL DEFAULT '',
        decided_by TEXT NOT NULL,
        channel TEXT NOT NULL,
        source_ref TEXT NOT NULL UNIQUE,
        decided_at TEXT NOT NULL
    );
    CREATE INDEX signoffs_by_cycle ON signoffs (cycle, area, id);
    CREATE TRIGGER signoffs_are_append_only_update BEFORE UPDATE ON signoffs
    BEGIN SELECT RAISE(ABORT, 'sign-off decisions are append-only'); END;
    CREATE TRIGGER signoffs_are_append_only_delete BEFORE DELETE ON signoffs
    BEGIN SELECT RAISE(ABORT, 'sign-off decisions are append-only'); END;
    """,
    # 13: judging a figure reads its measure's every (period, value): the by-measure index
    # carries the value too, so the read never visits the table (0.4 to 0.2 s of a poll of
    # 2,000 replies).
    """
    DROP INDEX submissions_by_measure;
    CREATE INDEX submissions_by_measure ON submissions (measure_id, period, id, value);
    """,
)
