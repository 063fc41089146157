"""The Graph backend over real HTTP to a fake Microsoft Graph on 127.0.0.1.

The same email cycle as every mail backend (tests/mail_scenario.py: prompt out, replies in,
confirmations back), then what only Graph has: tokens, throttling, paging, folders by id, and
`check()`.
"""

from __future__ import annotations

import base64
import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from email.mime.image import MIMEImage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

import pytest
import requests

from bot.app import create_app, make_mail_backend
from bot.mail.base import InboundMail, MailRefused, MailUnavailable
from bot.mail.graph import ClientCredentials, GraphBackend, Retry
from bot.settings import ConfigError
from tests import mail_scenario as scenario
from tests.conftest import reply
from tests.fake_graph import FakeGraph
from tests.mail_scenario import OCTOBER, figures_reply


@pytest.fixture
def graph():
    with FakeGraph(mailbox="pmbot@agency.example") as fake:
        yield fake


def graph_settings(settings, graph: FakeGraph, **overrides: str):
    extra = {
        "PMBOT_GRAPH_TENANT_ID": graph.tenant,
        "PMBOT_GRAPH_CLIENT_ID": graph.client_id,
        "PMBOT_GRAPH_CLIENT_SECRET": graph.client_secret,
        "PMBOT_GRAPH_MAILBOX": graph.mailbox,
        "PMBOT_GRAPH_API_URL": graph.api_url,
        "PMBOT_GRAPH_AUTHORITY_URL": graph.url,
        **overrides,
    }
    return replace(settings, mail_backend="graph", extra=extra)


@pytest.fixture
def sleeps() -> list[float]:
    """What the backend would have slept, in order; nothing sleeps."""
    return []


@pytest.fixture
def backend(settings, graph, sleeps):
    backend = GraphBackend.from_settings(graph_settings(settings, graph), sleep=sleeps.append)
    yield backend
    backend.close()


@pytest.fixture
def graph_bot(settings, graph, backend, clock, register_file):
    bot = create_app(graph_settings(settings, graph), clock=clock, mail=backend)
    with scenario.running(bot, register_file, clock):
        yield bot


@pytest.fixture
def prompted(graph_bot, graph):
    """Prompts for October 2026 sent through sendMail; returns (bot, the owner's prompt)."""
    return graph_bot, scenario.prompt_the_owner(graph_bot, graph.sent_messages)


def confirmations(graph: FakeGraph):
    return scenario.confirmations(graph.sent_messages())


def stranger_mail(number: int) -> bytes:
    return reply(None, f"stranger{number}@elsewhere.example", "OD-01: 1").as_bytes()


# ------------------------------------------------------------------------ the email cycle


def test_the_prompt_goes_out_through_sendmail_as_base64_mime(prompted, graph):
    bot, prompt = prompted
    [request] = graph.requests_to("POST", "/sendMail")
    assert request.headers["content-type"] == "text/plain"
    assert request.path == "/v1.0/users/pmbot@agency.example/sendMail"
    assert prompt["To"].addresses[0].addr_spec == "owner@agency.example"
    assert "2026-10" in prompt["Subject"] and prompt["X-PMBot"] == "prompt"
    assert prompt["Auto-Submitted"] == "auto-generated"
    assert "OD-01: \n" in prompt.get_body(("plain",)).get_content()
    assert b"\r\n" in base64.b64decode(request.body), "MIME travels with CRLF line ends"
    [ledger] = bot.store.ledger("prompt")
    assert ledger["transport_ref"] == prompt["Message-ID"]


def test_a_reply_with_one_bad_line_stores_the_good_one_and_the_confirmation_is_threaded(
    prompted, graph
):
    bot, prompt = prompted
    message = scenario.bad_line_reply(prompt)
    graph.deliver(message)
    assert scenario.outcomes(bot) == ["stored"]
    [confirmation] = confirmations(graph)
    scenario.check_bad_line_reply(bot, prompt, message, confirmation)


def test_an_out_of_office_is_ignored_never_answered_and_still_filed(prompted, graph):
    bot, prompt = prompted
    graph.deliver(scenario.out_of_office(prompt))
    scenario.check_out_of_office_ignored(bot, graph.sent_messages)
    assert len(graph.in_folder("inbox/pmbot/processed")) == 1


def test_the_same_message_delivered_twice_is_stored_once(prompted, graph):
    bot, prompt = prompted
    message = figures_reply(prompt)
    graph.deliver(message)
    graph.deliver(message)
    scenario.check_stored_once(bot, graph.sent_messages)


def test_processed_mail_is_marked_read_and_moved_not_deleted(prompted, graph):
    bot, prompt = prompted
    original_id = graph.deliver(figures_reply(prompt))
    bot.poll_mail()
    kept = scenario.check_moved_out_of_the_inbox(
        graph.in_folder("inbox"), graph.in_folder("inbox/pmbot/processed")
    )
    assert kept.is_read and scenario.FIGURES.encode() in kept.raw
    assert kept.id != original_id, "Graph gives a moved message a new id"
    [patch] = graph.requests_to("PATCH")
    [move] = graph.requests_to("POST", "/move")
    assert patch.path.endswith(original_id) and move.path.endswith(f"{original_id}/move")
    assert graph.requests.index(patch) < graph.requests.index(move)


def test_the_processed_folders_are_made_once_and_remembered(graph_bot, graph):
    graph.deliver(stranger_mail(1))
    graph_bot.poll_mail()
    graph.deliver(stranger_mail(2))
    graph_bot.poll_mail()
    assert len(graph.requests_to("POST", "/childFolders")) == 2  # pmbot, then processed
    assert len(graph.requests_to("GET", "/childFolders")) == 2
    assert len(graph.in_folder("inbox/pmbot/processed")) == 2


def test_existing_processed_folders_are_found_not_duplicated(graph_bot, graph):
    pmbot = graph.add_folder("PMBot", graph.folder_id("inbox"))  # names match without case
    graph.add_folder("processed", pmbot)
    graph.deliver(stranger_mail(1))
    graph_bot.poll_mail()
    assert graph.requests_to("POST", "/childFolders") == []
    assert len(graph.in_folder("inbox/pmbot/processed")) == 1


# -------------------------------------------------------------------- what Graph adds


def test_unread_messages_are_fetched_oldest_first_with_a_legal_filter(backend, graph):
    ids = [graph.deliver(stranger_mail(n)) for n in range(3)]
    graph.messages[graph.deliver(stranger_mail(9))].is_read = True  # read by a person: skipped
    assert [mail.key for mail in backend.fetch()] == ids
    [listing] = graph.requests_to("GET", "/inbox/messages")
    assert listing.query["$orderby"] == "receivedDateTime asc"
    assert listing.query["$filter"].startswith("receivedDateTime ge ")


def test_the_fake_refuses_orderby_that_does_not_lead_the_filter(backend, graph):
    # Real Graph answers 400 InefficientFilter; the fake must too, or the test above proves nothing.
    response = requests.get(
        f"{backend.user}/mailFolders/inbox/messages",
        params={"$filter": "isRead eq false", "$orderby": "receivedDateTime"},
        headers={"Authorization": f"Bearer {backend.token()}"},
        timeout=5,
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "InefficientFilter"


def test_every_page_is_followed_and_moving_mail_skips_none(graph_bot, graph, backend):
    backend.page_size = 10
    for n in range(25):
        graph.deliver(stranger_mail(n))
    assert len(graph_bot.poll_mail().results) == 25
    listings = graph.requests_to("GET", "/inbox/messages")
    assert [r.query.get("$skip") for r in listings] == [None, "10", "20"]
    assert graph.in_folder("inbox") == []


def test_a_message_taken_away_between_listing_and_reading_is_skipped(backend, graph):
    first, second = graph.deliver(stranger_mail(1)), graph.deliver(stranger_mail(2))
    graph.fail_next(404, path_contains=f"{first}/$value")
    assert [mail.key for mail in backend.fetch()] == [second]


def test_throttled_listing_is_retried_after_retry_after(backend, graph, sleeps):
    graph.deliver(stranger_mail(1))
    graph.fail_next(429, path_contains="/inbox/messages", retry_after="7")
    assert len(list(backend.fetch())) == 1
    assert sleeps == [7.0]


def test_throttled_sendmail_is_retried_and_sent_once(graph_bot, graph, sleeps):
    graph.fail_next(429, path_contains="/sendMail", retry_after="3")
    graph.fail_next(503, path_contains="/sendMail", retry_after="5")
    assert len(graph_bot.send_prompts(OCTOBER)) == 1
    assert sleeps == [3.0, 5.0]
    assert len(graph.requests_to("POST", "/sendMail")) == 3 and len(graph.sent) == 1


def test_without_retry_after_the_waits_grow(backend, graph, sleeps):
    graph.fail_next(504, path_contains="/inbox/messages", times=2)
    assert list(backend.fetch()) == []
    assert sleeps == [1.0, 2.0]


def test_endless_throttling_gives_up_with_mail_unavailable(backend, graph, sleeps):
    graph.fail_next(429, path_contains="/inbox/messages", retry_after="2", times=99)
    with pytest.raises(MailUnavailable, match=r"busy \(HTTP 429.*gave up after 5 attempt"):
        list(backend.fetch())
    assert sleeps == [2.0] * 4


def test_a_retry_after_too_long_to_wait_ends_the_poll_at_once(backend, graph, sleeps):
    graph.fail_next(429, path_contains="/inbox/messages", retry_after="900")
    with pytest.raises(MailUnavailable, match="Retry-After 900s"):
        list(backend.fetch())
    assert sleeps == []


def test_a_wrong_client_secret_is_a_clear_mail_unavailable(settings, graph):
    wrong = "not-the-secret-8d1f"
    backend = GraphBackend.from_settings(
        graph_settings(settings, graph, PMBOT_GRAPH_CLIENT_SECRET=wrong)
    )
    with pytest.raises(MailUnavailable) as caught:
        list(backend.fetch())
    message = str(caught.value)
    assert "AADSTS7000215" in message and "PMBOT_GRAPH_CLIENT_SECRET" in message
    assert wrong not in message and "Trace ID" not in message
    assert [r.path for r in graph.requests] == [f"/{graph.tenant}/oauth2/v2.0/token"]


def test_one_token_serves_every_request_until_near_its_expiry(graph):
    session, seconds = requests.Session(), [0.0]
    credentials = ClientCredentials(
        graph.url,
        graph.tenant,
        graph.client_id,
        graph.client_secret,
        "https://graph.microsoft.com/.default",
        session=session,
        retry=Retry(),
        clock=lambda: seconds[0],
    )
    first = credentials()
    seconds[0] = 3599 - 301
    assert credentials() == first
    seconds[0] = 3599 - 299  # within five minutes of expiry: renewed
    assert credentials() != first
    [request, _] = graph.requests_to("POST", "/oauth2/v2.0/token")
    assert b"scope=https%3A%2F%2Fgraph.microsoft.com%2F.default" in request.body
    session.close()


def test_a_revoked_token_fails_once_then_a_new_one_is_fetched(backend, graph):
    list(backend.fetch())
    graph.tokens.clear()  # revoked, or expired early
    with pytest.raises(MailUnavailable, match="access token was refused"):
        list(backend.fetch())
    assert list(backend.fetch()) == []
    assert len(graph.requests_to("POST", "/oauth2/v2.0/token")) == 2


def test_a_message_graph_refuses_is_mail_refused(backend):
    message = MIMEText("no recipients")
    message["Subject"] = "oops"
    with pytest.raises(MailRefused, match="ErrorInvalidRecipients"):
        backend.send(message)


def test_inline_images_and_threading_headers_arrive_unchanged(backend, graph):
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    message = MIMEMultipart("related")
    message["To"], message["Subject"] = "lead@agency.example", "Digest"
    message["Message-ID"], message["In-Reply-To"] = "<d1@agency.example>", "<p1@agency.example>"
    message.attach(MIMEText('<img src="cid:chart1">', "html"))
    image = MIMEImage(png, "png")
    image["Content-ID"] = "<chart1>"
    message.attach(image)
    assert backend.send(message) == "<d1@agency.example>"
    [sent] = graph.sent_messages()
    [_, chart] = sent.iter_parts()
    assert chart["Content-ID"] == "<chart1>" and chart.get_content() == png
    assert sent["In-Reply-To"] == "<p1@agency.example>"


def test_mark_done_on_a_message_already_moved_is_quiet(backend, graph):
    backend.mark_done(InboundMail(key="AAMkAGgone=", raw=b""))
    assert graph.requests_to("POST", "/move") == []


def test_a_server_that_is_down_is_mail_unavailable(settings):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    extra = {
        "PMBOT_GRAPH_TENANT_ID": "t",
        "PMBOT_GRAPH_CLIENT_ID": "c",
        "PMBOT_GRAPH_CLIENT_SECRET": "s",
        "PMBOT_GRAPH_MAILBOX": "pmbot@agency.example",
        "PMBOT_GRAPH_API_URL": f"http://127.0.0.1:{port}/v1.0",
        "PMBOT_GRAPH_AUTHORITY_URL": f"http://127.0.0.1:{port}",
    }
    backend = GraphBackend.from_settings(replace(settings, extra=extra))
    with pytest.raises(MailUnavailable, match="cannot reach .* Connection refused"):
        list(backend.fetch())


def test_the_poller_and_the_scheduler_can_share_one_backend(backend, graph):
    """`pmbot serve` polls in one thread and sends in another, through the same backend."""
    for n in range(20):
        graph.deliver(stranger_mail(n))

    def poll() -> int:
        fetched = list(backend.fetch())
        for mail in fetched:
            backend.mark_done(mail)
        return len(fetched)

    def send(n: int) -> str:
        message = MIMEText(f"prompt {n}")
        message["To"], message["Message-ID"] = f"owner{n}@agency.example", f"<p{n}@agency.example>"
        return backend.send(message)

    with ThreadPoolExecutor(max_workers=4) as pool:
        sends = [pool.submit(send, n) for n in range(20)]
        polls = [pool.submit(poll), pool.submit(poll)]
        assert len({f.result() for f in sends}) == 20
        assert sum(f.result() for f in polls) >= 20
    assert len(graph.sent) == 20 and graph.in_folder("inbox") == []
    assert len(graph.in_folder("inbox/pmbot/processed")) == 20
    assert len(graph.requests_to("POST", "/oauth2/v2.0/token")) == 1
    assert len(graph.requests_to("POST", "/childFolders")) == 2


def test_the_fake_accepts_sendmail_as_json_with_any_key_case(backend, graph):
    response = requests.post(
        f"{backend.user}/sendMail",
        json={"Message": {"subject": "Hi", "toRecipients": []}, "SaveToSentItems": False},
        headers={"Authorization": f"Bearer {backend.token()}"},
        timeout=5,
    )
    assert response.status_code == 202 and response.content == b""
    assert graph.sent_json == [{"subject": "Hi", "toRecipients": []}]


# ------------------------------------------------------------------ settings and check()


def test_settings_name_every_missing_variable(settings):
    with pytest.raises(ConfigError) as caught:
        GraphBackend.from_settings(replace(settings, extra={"PMBOT_GRAPH_MAILBOX": "a@b.example"}))
    assert str(caught.value) == (
        "PMBOT_MAIL_BACKEND=graph needs PMBOT_GRAPH_TENANT_ID, PMBOT_GRAPH_CLIENT_ID, "
        "PMBOT_GRAPH_CLIENT_SECRET"
    )


def test_settings_refuse_a_url_without_a_scheme(settings, graph):
    bad = graph_settings(settings, graph, PMBOT_GRAPH_API_URL="graph.example/v1.0")
    with pytest.raises(ConfigError, match="PMBOT_GRAPH_API_URL='graph.example/v1.0' is not an"):
        GraphBackend.from_settings(bad)


def test_the_factory_builds_graph_with_microsoft_endpoints_by_default(settings):
    extra = {
        "PMBOT_GRAPH_TENANT_ID": "contoso.onmicrosoft.com",
        "PMBOT_GRAPH_CLIENT_ID": "c",
        "PMBOT_GRAPH_CLIENT_SECRET": "s",
        "PMBOT_GRAPH_MAILBOX": "pmbot@contoso.example",
    }
    backend = make_mail_backend(replace(settings, mail_backend="graph", extra=extra))
    assert isinstance(backend, GraphBackend) and backend.folder == "inbox"
    assert backend.user == "https://graph.microsoft.com/v1.0/users/pmbot@contoso.example"
    assert backend.token.url == (
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    )
    assert backend.token.scope == "https://graph.microsoft.com/.default"


def test_check_reports_every_step_when_all_is_well(backend, graph):
    results = backend.check()
    assert [(r.what, r.ok) for r in results] == [
        ("get an app-only token for client client-1 in tenant tenant-1", True),
        ("permission to send mail (Mail.Send)", True),
        ("open mailbox pmbot@agency.example", True),
        ("open folder inbox", True),
        ("find or create folder inbox/pmbot/processed", True),
    ]
    assert graph.folder_id("inbox/pmbot/processed")


def test_check_explains_a_wrong_secret_and_goes_no_further(settings, graph):
    backend = GraphBackend.from_settings(
        graph_settings(settings, graph, PMBOT_GRAPH_CLIENT_SECRET="wrong")
    )
    [result] = backend.check()
    assert not result.ok and "invalid_client: AADSTS7000215" in result.detail


def test_check_reports_a_missing_send_permission(settings):
    with FakeGraph(roles=("Mail.ReadWrite",)) as graph:
        results = GraphBackend.from_settings(graph_settings(settings, graph)).check()
    [send] = [r for r in results if "Mail.Send" in r.what]
    assert not send.ok and "add the Mail.Send application permission" in send.detail
    assert all(r.ok for r in results if r is not send)


def test_check_reports_an_unknown_mailbox(settings, graph):
    backend = GraphBackend.from_settings(
        graph_settings(settings, graph, PMBOT_GRAPH_MAILBOX="nobody@agency.example")
    )
    *_, mailbox = backend.check()
    assert mailbox.what == "open mailbox nobody@agency.example" and not mailbox.ok
    assert "no such mailbox" in mailbox.detail and "PMBOT_GRAPH_MAILBOX" in mailbox.detail


def test_a_folder_that_does_not_exist_points_at_its_setting(settings, graph):
    backend = GraphBackend.from_settings(graph_settings(settings, graph, PMBOT_GRAPH_FOLDER="Nope"))
    with pytest.raises(MailUnavailable, match="ErrorItemNotFound.*check PMBOT_GRAPH_FOLDER"):
        list(backend.fetch())
