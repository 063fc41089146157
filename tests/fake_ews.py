"""A small fake Exchange Web Services server on 127.0.0.1, for tests and benchmarks.

It answers the SOAP operations exchangelib sends for pmbot's steps, with Exchange's response
shapes (`m:{Op}Response/m:ResponseMessages/m:{Op}ResponseMessage`), and keeps mailboxes,
folders and items in memory:

    GetFolder, FindFolder, CreateFolder, FindItem, GetItem (MimeContent as base64),
    CreateItem (SendOnly, SendAndSaveCopy, SaveOnly), UpdateItem (IsRead), MoveItem (new ItemId),
    SendItem, DeleteItem

Like Exchange it checks HTTP Basic credentials (401 otherwise), accepts booleans written as 0/1
or true/false, and can answer the next N requests with the ErrorServerBusy SOAP fault and a
BackOffMilliseconds hint. Every request is recorded in `operations` for assertions.

    with FakeExchange(users={"bot@agency.example": "secret"}) as exchange:
        exchange.deliver("bot@agency.example", raw_bytes)
        ... point exchangelib at exchange.url ...
        assert exchange.op_names() == ["GetFolder", "GetFolder", "FindItem", ...]
"""

from __future__ import annotations

import base64
import binascii
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses
from functools import cached_property
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
MNS = "http://schemas.microsoft.com/exchange/services/2006/messages"
TNS = "http://schemas.microsoft.com/exchange/services/2006/types"
ENS = "http://schemas.microsoft.com/exchange/services/2006/errors"
S, M, T = f"{{{SOAP}}}", f"{{{MNS}}}", f"{{{TNS}}}"
PARSER = BytesParser(policy=policy.default)

# The distinguished folders a new mailbox has: id -> (display name, parent id).
DISTINGUISHED = {
    "root": ("Root", None),
    "msgfolderroot": ("Top of Information Store", "root"),
    "inbox": ("Inbox", "msgfolderroot"),
    "sentitems": ("Sent Items", "msgfolderroot"),
    "drafts": ("Drafts", "msgfolderroot"),
    "deleteditems": ("Deleted Items", "msgfolderroot"),
}


class SoapError(Exception):
    """An error answered as one ResponseMessage with ResponseClass="Error"."""

    def __init__(self, code: str, text: str = "") -> None:
        super().__init__(text or code)
        self.code = code


@dataclass
class Folder:
    id: str
    name: str
    parent_id: str | None
    distinguished: str | None = None
    changekey: str = "AQAAABYAAAA"


@dataclass
class Item:
    id: str
    changekey: str
    folder_id: str
    mime: bytes
    received: datetime
    is_read: bool = False
    is_draft: bool = False
    fields: dict[str, object] = field(default_factory=dict)  # values set by CreateItem

    @property
    def message(self) -> EmailMessage:
        return PARSER.parsebytes(self.mime)

    def header(self, name: str) -> str:
        return str(self.message.get(name, "") or "")


@dataclass
class Sent:
    """A message Exchange accepted for delivery: its MIME and the fields it was created with."""

    disposition: str
    mime: bytes
    fields: dict[str, object]

    @cached_property
    def message(self) -> EmailMessage:
        return PARSER.parsebytes(self.mime)

    @property
    def recipients(self) -> list[str]:
        explicit = self.fields.get("to", [])
        if explicit:
            return list(explicit)
        # Created from MIME only: Exchange takes the recipients from the MIME headers.
        message = self.message
        headers = [str(h) for h in message.get_all("To", []) + message.get_all("Cc", [])]
        pairs = getaddresses(headers)
        return [address.lower() for _, address in pairs if address]


@dataclass
class Operation:
    name: str
    mailbox: str = ""
    status: str = "ok"  # ok, busy, unauthorized, error
    detail: dict[str, object] = field(default_factory=dict)


@dataclass
class Mailbox:
    address: str
    folders: dict[str, Folder] = field(default_factory=dict)
    items: dict[str, Item] = field(default_factory=dict)

    def distinguished(self, name: str) -> Folder:
        for folder in self.folders.values():
            if folder.distinguished == name:
                return folder
        raise SoapError("ErrorFolderNotFound", f"The distinguished folder {name!r} was not found.")

    def children(self, folder_id: str) -> list[Folder]:
        return [f for f in self.folders.values() if f.parent_id == folder_id]

    def in_folder(self, folder_id: str) -> list[Item]:
        return [i for i in self.items.values() if i.folder_id == folder_id]

    def path(self, path: str) -> Folder:
        """A folder by display names, e.g. "inbox" or "msgfolderroot/pmbot/processed"."""
        first, *rest = path.split("/")
        folder = self.distinguished(first)
        for name in rest:
            [folder] = [f for f in self.children(folder.id) if f.name.lower() == name.lower()]
        return folder


class FakeExchange:
    """The server state plus an HTTP server thread; use it as a context manager."""

    def __init__(
        self,
        users: dict[str, str] | None = None,
        mailboxes: tuple[str, ...] = (),
        build: tuple[int, int, int, int] = (15, 1, 2507, 6),
    ) -> None:
        self.users = dict(users or {})
        self.build = build
        self.operations: list[Operation] = []
        self.sent: list[Sent] = []
        self.refused_recipients: set[str] = set()
        self.lock = threading.RLock()
        self._busy_left = 0
        self._busy_ms = 0
        self._ids = itertools.count(1)
        self._clock = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
        self._server: ThreadingHTTPServer | None = None
        self.mailboxes: dict[str, Mailbox] = {}
        for address in mailboxes or tuple(self.users):
            self.add_mailbox(address)

    # --- running ------------------------------------------------------------------------

    def start(self) -> FakeExchange:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.exchange = self  # type: ignore[attr-defined]
        # A short poll interval: stop() waits for the loop to notice, and tests start many fakes.
        serve = self._server.serve_forever
        threading.Thread(target=serve, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeExchange:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        return f"http://127.0.0.1:{self._server.server_address[1]}/EWS/Exchange.asmx"

    # --- arranging and inspecting -----------------------------------------------------

    def add_mailbox(self, address: str) -> Mailbox:
        mailbox = Mailbox(address.lower())
        for name, (display, parent) in DISTINGUISHED.items():
            folder_id = self._new_id("F")
            mailbox.folders[folder_id] = Folder(folder_id, display, parent, distinguished=name)
        by_name = {f.distinguished: f.id for f in mailbox.folders.values()}
        for folder in mailbox.folders.values():
            folder.parent_id = by_name.get(folder.parent_id) if folder.parent_id else None
        self.mailboxes[mailbox.address] = mailbox
        return mailbox

    def deliver(
        self, address: str, raw: bytes | Message, *, folder: str = "inbox", is_read: bool = False
    ) -> str:
        """Put a message into a folder as the transport would; returns its ItemId."""
        data = raw if isinstance(raw, bytes) else raw.as_bytes()
        with self.lock:
            mailbox = self.mailboxes[address.lower()]
            item = self._new_item(mailbox.path(folder).id, data)
            item.is_read = is_read
            mailbox.items[item.id] = item
            return item.id

    def items(self, address: str, folder: str = "inbox") -> list[Item]:
        with self.lock:
            mailbox = self.mailboxes[address.lower()]
            return sorted(mailbox.in_folder(mailbox.path(folder).id), key=lambda i: i.received)

    def busy(self, requests: int, back_off_ms: int) -> None:
        """Answer the next `requests` requests with ErrorServerBusy, asking for a back-off."""
        with self.lock:
            self._busy_left, self._busy_ms = requests, back_off_ms

    def take_busy(self) -> int | None:
        """The back-off to ask for if this request is to be refused as busy, else None."""
        if self._busy_left <= 0:
            return None
        self._busy_left -= 1
        return self._busy_ms

    def op_names(self, status: str | None = "ok") -> list[str]:
        with self.lock:
            return [o.name for o in self.operations if status is None or o.status == status]

    # --- internals ------------------------------------------------------------------------

    def _new_id(self, kind: str) -> str:
        # Exchange ids are long base64 strings; '+', '/' and '=' appear in real ones too.
        raw = f"{kind}:{next(self._ids):08d}".encode() + b"\xfb\xff"
        return "AAMkAD" + base64.b64encode(raw).decode()

    def _new_item(self, folder_id: str, mime: bytes) -> Item:
        # Each delivery is a second later than the last, so "oldest first" is well defined.
        self._clock += timedelta(seconds=1)
        return Item(self._new_id("I"), self._new_changekey(), folder_id, mime, self._clock)

    def _new_changekey(self) -> str:
        return "CQAAABYAAA" + base64.b64encode(str(next(self._ids)).encode()).decode()

    def handle(self, operation: str, mailbox_address: str, request: ET.Element) -> str:
        """Run one operation; returns the m:{Op}Response element as text."""
        handler: Callable[[Mailbox, ET.Element, Operation], list[str]] | None = getattr(
            self, f"_op_{operation}", None
        )
        record = Operation(operation, mailbox_address)
        self.operations.append(record)
        if handler is None:
            record.status = "error"
            raise SoapError("ErrorInvalidOperation", f"The fake does not implement {operation}")
        mailbox = self.mailboxes.get(mailbox_address)
        if mailbox is None:
            record.status = "error"
            messages = [_error(operation, "ErrorNonExistentMailbox", "No such mailbox.")]
        else:
            messages = handler(mailbox, request, record)
            if any('ResponseClass="Error"' in m for m in messages):
                record.status = "error"
        return (
            f"<m:{operation}Response><m:ResponseMessages>{''.join(messages)}"
            f"</m:ResponseMessages></m:{operation}Response>"
        )

    # --- folders ------------------------------------------------------------------------

    def _folder_by_id_element(self, mailbox: Mailbox, elem: ET.Element) -> Folder:
        if elem.tag == f"{T}DistinguishedFolderId":
            return mailbox.distinguished(elem.get("Id", ""))
        folder = mailbox.folders.get(elem.get("Id", ""))
        if folder is None:
            raise SoapError("ErrorFolderNotFound", "The specified folder could not be found.")
        return folder

    def _folder_xml(self, mailbox: Mailbox, folder: Folder) -> str:
        parent = _id("ParentFolderId", folder.parent_id, "AQAAAA==") if folder.parent_id else ""
        items = mailbox.in_folder(folder.id)
        return (
            f"<t:Folder>{_id('FolderId', folder.id, folder.changekey)}{parent}"
            "<t:FolderClass>IPF.Note</t:FolderClass>"
            f"<t:DisplayName>{escape(folder.name)}</t:DisplayName>"
            f"<t:TotalCount>{len(items)}</t:TotalCount>"
            f"<t:ChildFolderCount>{len(mailbox.children(folder.id))}</t:ChildFolderCount>"
            f"<t:UnreadCount>{sum(not i.is_read for i in items)}</t:UnreadCount></t:Folder>"
        )

    def _op_GetFolder(self, mailbox: Mailbox, request: ET.Element, record: Operation) -> list[str]:
        ids = list(request.find(f"{M}FolderIds"))
        record.detail["ids"] = [e.get("Id") for e in ids]
        messages = []
        for elem in ids:  # one message per requested id, in the same order
            try:
                folder = self._folder_by_id_element(mailbox, elem)
            except SoapError as exc:
                messages.append(_error("GetFolder", exc.code, str(exc)))
                continue
            folders = f"<m:Folders>{self._folder_xml(mailbox, folder)}</m:Folders>"
            messages.append(_success("GetFolder", folders))
        return messages

    def _op_FindFolder(self, mailbox: Mailbox, request: ET.Element, record: Operation) -> list[str]:
        traversal = request.get("Traversal", "Shallow")
        restriction = request.find(f"{M}Restriction")
        record.detail.update(traversal=traversal, restriction=_describe(restriction))
        messages = []
        for elem in request.find(f"{M}ParentFolderIds"):
            try:
                parent = self._folder_by_id_element(mailbox, elem)
            except SoapError as exc:
                messages.append(_error("FindFolder", exc.code, str(exc)))
                continue
            found, todo = [], list(mailbox.children(parent.id))
            while todo:
                folder = todo.pop(0)
                if _matches(restriction, lambda uri, f=folder: {"folder:DisplayName": f.name}[uri]):
                    found.append(folder)
                if traversal == "Deep":
                    todo.extend(mailbox.children(folder.id))
            body = "".join(self._folder_xml(mailbox, f) for f in found)
            messages.append(
                _success(
                    "FindFolder",
                    f'<m:RootFolder IndexedPagingOffset="{len(found)}" '
                    f'TotalItemsInView="{len(found)}" IncludesLastItemInRange="true">'
                    f"<t:Folders>{body}</t:Folders></m:RootFolder>",
                )
            )
        return messages

    def _op_CreateFolder(
        self, mailbox: Mailbox, request: ET.Element, record: Operation
    ) -> list[str]:
        parent = self._folder_by_id_element(mailbox, request.find(f"{M}ParentFolderId")[0])
        messages = []
        for elem in request.find(f"{M}Folders"):
            name = elem.findtext(f"{T}DisplayName", "")
            record.detail.setdefault("names", []).append(name)
            if any(f.name.lower() == name.lower() for f in mailbox.children(parent.id)):
                messages.append(_error("CreateFolder", "ErrorFolderExists", "Folder exists."))
                continue
            folder = Folder(self._new_id("F"), name, parent.id)
            mailbox.folders[folder.id] = folder
            folder_id = _id("FolderId", folder.id, folder.changekey)
            payload = f"<m:Folders><t:Folder>{folder_id}</t:Folder></m:Folders>"
            messages.append(_success("CreateFolder", payload))
        return messages

    # --- items --------------------------------------------------------------------------

    def _item_or_error(self, mailbox: Mailbox, elem: ET.Element) -> Item:
        item = mailbox.items.get(elem.get("Id", ""))
        if item is None:
            raise SoapError("ErrorItemNotFound", "The specified object was not found in the store.")
        return item

    def _op_FindItem(self, mailbox: Mailbox, request: ET.Element, record: Operation) -> list[str]:
        restriction = request.find(f"{M}Restriction")
        view = request.find(f"{M}IndexedPageItemView")
        offset = int(view.get("Offset", "0")) if view is not None else 0
        limit = int(view.get("MaxEntriesReturned", "1000")) if view is not None else 1000
        record.detail.update(
            traversal=request.get("Traversal"), restriction=_describe(restriction), offset=offset
        )
        messages = []
        for elem in request.find(f"{M}ParentFolderIds"):
            try:
                folder = self._folder_by_id_element(mailbox, elem)
            except SoapError as exc:
                messages.append(_error("FindItem", exc.code, str(exc)))
                continue
            matching = [
                i for i in mailbox.in_folder(folder.id) if _matches(restriction, _item_getter(i))
            ]
            for order in reversed(request.findall(f"{M}SortOrder/{T}FieldOrder")):
                uri = order.find(f"{T}FieldURI").get("FieldURI")
                matching.sort(key=lambda i, u=uri: _item_getter(i)(u),
                              reverse=order.get("Order") == "Descending")  # fmt: skip
            page = matching[offset : offset + limit]
            last = offset + len(page) >= len(matching)
            body = "".join(
                f"<t:Message>{_id('ItemId', i.id, i.changekey)}</t:Message>" for i in page
            )
            messages.append(
                _success(
                    "FindItem",
                    # exchangelib reads this flag as "true"/"false" only ("0" would mean true).
                    f'<m:RootFolder IndexedPagingOffset="{offset + len(page)}" '
                    f'TotalItemsInView="{len(matching)}" '
                    f'IncludesLastItemInRange="{"true" if last else "false"}">'
                    f"<t:Items>{body}</t:Items></m:RootFolder>",
                )
            )
        return messages

    def _op_GetItem(self, mailbox: Mailbox, request: ET.Element, record: Operation) -> list[str]:
        wanted = {
            e.get("FieldURI") for e in request.iterfind(f"{M}ItemShape/{T}AdditionalProperties/*")
        }
        ids = list(request.find(f"{M}ItemIds"))
        record.detail.update(fields=sorted(wanted), count=len(ids))
        messages = []
        for elem in ids:
            try:
                item = self._item_or_error(mailbox, elem)
            except SoapError as exc:
                messages.append(_error("GetItem", exc.code, str(exc)))
                continue
            messages.append(_success("GetItem", f"<m:Items>{_item_xml(item, wanted)}</m:Items>"))
        return messages

    def _op_UpdateItem(self, mailbox: Mailbox, request: ET.Element, record: Operation) -> list[str]:
        messages = []
        for change in request.iterfind(f"{M}ItemChanges/{T}ItemChange"):
            try:
                item = self._item_or_error(mailbox, change.find(f"{T}ItemId"))
            except SoapError as exc:
                messages.append(_error("UpdateItem", exc.code, str(exc)))
                continue
            for update in change.find(f"{T}Updates"):
                uri = update.find(f"{T}FieldURI").get("FieldURI")
                record.detail.setdefault("fields", []).append(uri)
                value = update.find(f"{T}Message/*")
                if uri == "message:IsRead":
                    item.is_read = _boolean(value.text)
                elif uri == "item:Subject":
                    item.fields["subject"] = value.text or ""
                else:
                    raise SoapError("ErrorInvalidPropertySet", f"The fake cannot update {uri}")
            item.changekey = self._new_changekey()
            conflicts = "<m:ConflictResults><t:Count>0</t:Count></m:ConflictResults>"
            messages.append(_success("UpdateItem", _items(item) + conflicts))
        return messages

    def _op_MoveItem(self, mailbox: Mailbox, request: ET.Element, record: Operation) -> list[str]:
        target = self._folder_by_id_element(mailbox, request.find(f"{M}ToFolderId")[0])
        record.detail["to"] = target.name
        messages = []
        for elem in request.find(f"{M}ItemIds"):
            try:
                item = mailbox.items.pop(self._item_or_error(mailbox, elem).id)
            except SoapError as exc:
                messages.append(_error("MoveItem", exc.code, str(exc)))
                continue
            # A moved item is a new item in the target folder, with a new id.
            item.id, item.changekey = self._new_id("I"), self._new_changekey()
            item.folder_id = target.id
            mailbox.items[item.id] = item
            messages.append(_success("MoveItem", _items(item)))
        return messages

    def _op_DeleteItem(self, mailbox: Mailbox, request: ET.Element, record: Operation) -> list[str]:
        record.detail["type"] = request.get("DeleteType")
        messages = []
        for elem in request.find(f"{M}ItemIds"):
            try:
                item = self._item_or_error(mailbox, elem)
            except SoapError as exc:
                messages.append(_error("DeleteItem", exc.code, str(exc)))
                continue
            if request.get("DeleteType") == "MoveToDeletedItems":
                item.folder_id = mailbox.distinguished("deleteditems").id
            else:
                del mailbox.items[item.id]
            messages.append(_success("DeleteItem"))
        return messages

    def _op_CreateItem(self, mailbox: Mailbox, request: ET.Element, record: Operation) -> list[str]:
        disposition = request.get("MessageDisposition", "SaveOnly")
        saved_in = request.find(f"{M}SavedItemFolderId")
        record.detail["disposition"] = disposition
        messages = []
        for elem in request.find(f"{M}Items"):
            fields = _message_fields(elem)
            mime = fields.pop("mime", None) or _mime_from_fields(fields)
            sent = Sent(disposition, mime, fields)
            refused = set(sent.recipients) & self.refused_recipients
            if disposition != "SaveOnly" and refused:
                text = f"Recipient {sorted(refused)[0]} is not valid."
                messages.append(_error("CreateItem", "ErrorInvalidRecipients", text))
                continue
            if disposition != "SaveOnly":
                self.sent.append(sent)
                record.detail.setdefault("subjects", []).append(sent.message.get("Subject"))
            if disposition == "SendOnly":
                messages.append(_success("CreateItem", "<m:Items/>"))
                continue
            if saved_in is not None:
                folder = self._folder_by_id_element(mailbox, saved_in[0])
            else:
                default = "drafts" if disposition == "SaveOnly" else "sentitems"
                folder = mailbox.distinguished(default)
            item = self._new_item(folder.id, mime)
            item.fields, item.is_read, item.is_draft = fields, True, disposition == "SaveOnly"
            mailbox.items[item.id] = item
            if disposition == "SaveOnly":
                messages.append(_success("CreateItem", _items(item)))
            else:
                messages.append(_success("CreateItem", "<m:Items/>"))
        return messages

    def _op_SendItem(self, mailbox: Mailbox, request: ET.Element, record: Operation) -> list[str]:
        save = _boolean(request.get("SaveItemToFolder", "true"))
        saved_in = request.find(f"{M}SavedItemFolderId")
        messages = []
        for elem in request.find(f"{M}ItemIds"):
            try:
                item = self._item_or_error(mailbox, elem)
            except SoapError as exc:
                messages.append(_error("SendItem", exc.code, str(exc)))
                continue
            self.sent.append(Sent("SendItem", item.mime, item.fields))
            if save:
                target = (
                    self._folder_by_id_element(mailbox, saved_in[0])
                    if saved_in is not None
                    else mailbox.distinguished("sentitems")
                )
                item.folder_id, item.is_draft = target.id, False
            else:
                del mailbox.items[item.id]
            messages.append(_success("SendItem"))
        return messages


# --- XML helpers --------------------------------------------------------------------------


def _success(operation: str, payload: str = "") -> str:
    return (
        f'<m:{operation}ResponseMessage ResponseClass="Success">'
        f"<m:ResponseCode>NoError</m:ResponseCode>{payload}</m:{operation}ResponseMessage>"
    )


def _error(operation: str, code: str, text: str) -> str:
    return (
        f'<m:{operation}ResponseMessage ResponseClass="Error">'
        f"<m:MessageText>{escape(text)}</m:MessageText><m:ResponseCode>{code}</m:ResponseCode>"
        f"<m:DescriptiveLinkKey>0</m:DescriptiveLinkKey></m:{operation}ResponseMessage>"
    )


def _id(tag: str, id_: str, changekey: str) -> str:
    return f"<t:{tag} Id={quoteattr(id_)} ChangeKey={quoteattr(changekey)}/>"


def _items(item: Item) -> str:
    """The payload naming one item, as UpdateItem, MoveItem and CreateItem(SaveOnly) answer."""
    return f"<m:Items><t:Message>{_id('ItemId', item.id, item.changekey)}</t:Message></m:Items>"


def _boolean(text: str | None) -> bool:
    # exchangelib writes booleans as 0/1; other clients write true/false. Both are valid xs:boolean.
    value = (text or "").strip().lower()
    if value not in ("0", "1", "true", "false"):
        raise SoapError("ErrorSchemaValidation", f"{text!r} is not a boolean")
    return value in ("1", "true")


def _item_getter(item: Item) -> Callable[[str], object]:
    # Lazily: parsing every message's MIME for every FindItem page would make the fake slow.
    values: dict[str, Callable[[], object]] = {
        "message:IsRead": lambda: item.is_read,
        "item:DateTimeReceived": lambda: item.received,
        "item:Subject": lambda: item.header("Subject"),
        "message:InternetMessageId": lambda: item.header("Message-ID"),
    }

    def get(uri: str) -> object:
        if uri not in values:
            raise SoapError("ErrorUnsupportedPathForQuery", f"The fake cannot query {uri}")
        return values[uri]()

    return get


def _matches(restriction: ET.Element | None, get: Callable[[str], object]) -> bool:
    """Evaluate an EWS Restriction (IsEqualTo, IsNotEqualTo, And, Or, Not) for one object."""
    if restriction is None:
        return True

    def evaluate(node: ET.Element) -> bool:
        kind = node.tag.removeprefix(T)
        if kind in ("And", "Or"):
            results = [evaluate(child) for child in node]
            return all(results) if kind == "And" else any(results)
        if kind == "Not":
            return not evaluate(node[0])
        if kind in ("IsEqualTo", "IsNotEqualTo"):
            actual = get(node.find(f"{T}FieldURI").get("FieldURI"))
            expected = node.find(f"{T}FieldURIOrConstant/{T}Constant").get("Value", "")
            if isinstance(actual, bool):
                equal = actual == _boolean(expected)
            else:  # Exchange compares text without regard to case
                equal = str(actual).lower() == expected.lower()
            return equal if kind == "IsEqualTo" else not equal
        raise SoapError("ErrorUnsupportedQueryFilter", f"The fake cannot evaluate {kind}")

    return evaluate(restriction[0])


def _describe(restriction: ET.Element | None) -> str:
    """A short text form of a restriction for assertions, e.g. "folder:DisplayName=pmbot"."""
    if restriction is None:
        return ""
    parts = []
    for node in restriction.iter():
        uri = node.find(f"{T}FieldURI")
        constant = node.find(f"{T}FieldURIOrConstant/{T}Constant")
        if uri is not None and constant is not None:
            parts.append(f"{uri.get('FieldURI')}={constant.get('Value')}")
    return " ".join(parts)


def _item_xml(item: Item, wanted: set[str]) -> str:
    parts = [_id("ItemId", item.id, item.changekey)]
    message = item.message
    if "item:MimeContent" in wanted:
        encoded = base64.b64encode(item.mime).decode()
        parts.append(f'<t:MimeContent CharacterSet="UTF-8">{encoded}</t:MimeContent>')
    if "item:Subject" in wanted:
        parts.append(f"<t:Subject>{escape(str(message.get('Subject', '')))}</t:Subject>")
    if "item:DateTimeReceived" in wanted:
        parts.append(f"<t:DateTimeReceived>{item.received:%Y-%m-%dT%H:%M:%SZ}</t:DateTimeReceived>")
    if "message:InternetMessageId" in wanted:
        message_id = escape(str(message.get("Message-ID", "")))
        parts.append(f"<t:InternetMessageId>{message_id}</t:InternetMessageId>")
    if "message:IsRead" in wanted:
        parts.append(f"<t:IsRead>{'true' if item.is_read else 'false'}</t:IsRead>")
    return f"<t:Message>{''.join(parts)}</t:Message>"


def _addresses(elem: ET.Element, tag: str) -> list[str]:
    return [(e.text or "").lower() for e in elem.iterfind(f"{T}{tag}/{T}Mailbox/{T}EmailAddress")]


def _message_fields(elem: ET.Element) -> dict[str, object]:
    """The fields of a t:Message in a CreateItem request (MIME content decoded)."""
    fields: dict[str, object] = {}
    mime = elem.findtext(f"{T}MimeContent")
    if mime:
        try:
            fields["mime"] = base64.b64decode(mime, validate=True)
        except binascii.Error as exc:
            raise SoapError("ErrorMimeContentInvalidBase64String", str(exc)) from exc
    texts = {"Subject": "subject", "InReplyTo": "in_reply_to", "References": "references",
             "InternetMessageId": "message_id"}  # fmt: skip
    for tag, name in texts.items():
        if elem.find(f"{T}{tag}") is not None:
            fields[name] = elem.findtext(f"{T}{tag}", "")
    body = elem.find(f"{T}Body")
    if body is not None:
        fields["body"] = (body.get("BodyType", "Text"), body.text or "")
    for tag, name in (("ToRecipients", "to"), ("CcRecipients", "cc"), ("BccRecipients", "bcc")):
        if elem.find(f"{T}{tag}") is not None:
            fields[name] = _addresses(elem, tag)
    if elem.find(f"{T}IsRead") is not None:
        fields["is_read"] = _boolean(elem.findtext(f"{T}IsRead"))
    fields["attachments"] = [
        {
            "name": a.findtext(f"{T}Name", ""),
            "content_id": a.findtext(f"{T}ContentId"),
            "is_inline": _boolean(a.findtext(f"{T}IsInline", "false")),
            "content": base64.b64decode(a.findtext(f"{T}Content", "")),
        }
        for a in elem.iterfind(f"{T}Attachments/{T}FileAttachment")
    ]
    return fields


def _mime_from_fields(fields: dict[str, object]) -> bytes:
    """Roughly what Exchange would generate for a message created from fields, not MIME."""
    message = Message()
    message["Subject"] = str(fields.get("subject", ""))
    if fields.get("to"):
        message["To"] = ", ".join(fields["to"])  # type: ignore[arg-type]
    for name, header in (("in_reply_to", "In-Reply-To"), ("references", "References"),
                         ("message_id", "Message-ID")):  # fmt: skip
        if fields.get(name):
            message[header] = str(fields[name])
    body_type, text = fields.get("body", ("Text", ""))  # type: ignore[misc]
    message.set_payload(text, "utf-8")
    message.set_type("text/html" if body_type == "HTML" else "text/plain")
    return message.as_bytes()


def _envelope(body: str, build: tuple[int, int, int, int]) -> bytes:
    major, minor, major_build, minor_build = build
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<s:Envelope xmlns:s="{SOAP}" xmlns:m="{MNS}" xmlns:t="{TNS}"><s:Header>'
        f'<h:ServerVersionInfo xmlns:h="{TNS}" MajorVersion="{major}" MinorVersion="{minor}" '
        f'MajorBuildNumber="{major_build}" MinorBuildNumber="{minor_build}" Version="V2017_07_11"/>'
        f"</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def _fault(code: str, text: str, back_off_ms: int | None = None) -> bytes:
    """A SOAP fault the way Exchange sends throttling and request-level errors."""
    hint = (
        f'<t:MessageXml xmlns:t="{TNS}"><t:Value Name="BackOffMilliseconds">{back_off_ms}'
        "</t:Value></t:MessageXml>"
        if back_off_ms is not None
        else ""
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{SOAP}"><s:Body><s:Fault>'
        f'<faultcode xmlns:a="{TNS}">a:{code}</faultcode>'
        f'<faultstring xml:lang="en-US">{escape(text)}</faultstring><detail>'
        f'<e:ResponseCode xmlns:e="{ENS}">{code}</e:ResponseCode>'
        f'<e:Message xmlns:e="{ENS}">{escape(text)}</e:Message>{hint}'
        "</detail></s:Fault></s:Body></s:Envelope>"
    ).encode()


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 keeps the connection open between requests, as IIS does; without Nagle's
    # algorithm the body, written after the headers, is not held back 40 ms for an ACK.
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the stdlib's name
        pass  # quiet: tests read `operations` instead

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        exchange: FakeExchange = self.server.exchange  # type: ignore[attr-defined]
        data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        mailbox = (self.headers.get("X-AnchorMailbox") or "").lower()
        try:
            request = ET.fromstring(data)
            operation_elem = request.find(f"{S}Body")[0]
        except (ET.ParseError, TypeError, IndexError):
            self._reply(500, _fault("ErrorSchemaValidation", "The request is not valid SOAP."))
            return
        operation = operation_elem.tag.removeprefix(M)
        with exchange.lock:
            if not self._authorised(exchange):
                exchange.operations.append(Operation(operation, mailbox, "unauthorized"))
                self._reply(401, b"", {"WWW-Authenticate": 'Basic realm="fake-ews"'})
                return
            back_off_ms = exchange.take_busy()
            if back_off_ms is not None:
                exchange.operations.append(Operation(operation, mailbox, "busy"))
                text = "The server cannot service this request right now. Try again later."
                self._reply(500, _fault("ErrorServerBusy", text, back_off_ms))
                return
            try:
                body = exchange.handle(operation, mailbox, operation_elem)
            except SoapError as exc:
                self._reply(500, _fault(exc.code, str(exc)))
                return
            self._reply(200, _envelope(body, exchange.build))

    def _authorised(self, exchange: FakeExchange) -> bool:
        scheme, _, value = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(value).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return exchange.users.get(user) == password

    def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        # Never "Connection: close": exchangelib reads that as a busy server and retries.
        self.send_header("Content-Type", "text/xml; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
