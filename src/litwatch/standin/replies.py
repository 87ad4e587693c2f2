"""Reply bodies in NCBI's own shapes (esearch, efetch, einfo, elink, errors), built as bytes.

Shapes copied from real replies: Biopython's Tests/Entrez/esearch*.xml, einfo*.xml,
pubmed*.xml, elink*.xml, and NCBI's documented/observed error bodies.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from xml.sax.saxutils import escape as _escape

from .query import QueryResult

XML_TYPE = "text/xml; charset=UTF-8"
JSON_TYPE = "application/json; charset=UTF-8"
HTML_TYPE = "text/html; charset=UTF-8"

ESEARCH_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" ?>\n'
    '<!DOCTYPE eSearchResult PUBLIC "-//NLM//DTD esearch 20060628//EN" '
    '"https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20060628/esearch.dtd">\n'
)
ESEARCH_UNKNOWN_DTD = (
    '<?xml version="1.0" encoding="UTF-8" ?>\n'
    '<!DOCTYPE eSearchResult PUBLIC "-//NLM//DTD esearch 20990101//EN" '
    '"http://eutils.ncbi.nlm.nih.gov/eutils/dtd/20990101/esearch.dtd">\n'
)
EINFO_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" ?>\n'
    '<!DOCTYPE eInfoResult PUBLIC "-//NLM//DTD einfo 20190110//EN" '
    '"https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20190110/einfo.dtd">\n'
)
ELINK_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" ?>\n'
    '<!DOCTYPE eLinkResult PUBLIC "-//NLM//DTD elink 20101123//EN" '
    '"https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20101123/elink.dtd">\n'
)
ELINK_UNKNOWN_DTD = (
    '<?xml version="1.0" encoding="UTF-8" ?>\n'
    '<!DOCTYPE eLinkResult PUBLIC "-//NLM//DTD elink 20990101//EN" '
    '"http://eutils.ncbi.nlm.nih.gov/eutils/dtd/20990101/elink.dtd">\n'
)
ELINK_JSON_HEADER = {"type": "elink", "version": "0.3"}
# An elink outage as NCBI really sent it (biopython issue #4980, March 2025).
ELINK_BACKEND_ERROR = "Couldn't resolve #exLinkSrv2, the address table is empty."
PUBMED_DOCTYPE = (
    '<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2025//EN" '
    '"https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">'
)
UNKNOWN_PUBMED_DTD_URL = "http://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_990101.dtd"
RETSTART_ERROR = (
    "Search Backend failed: Exception:\n'retstart' cannot be larger than 9998. For PubMed, "
    "ESearch can only retrieve the first 9,999 records matching the query. To obtain more than "
    "9,999 PubMed records, consider using EDirect that contains additional logic to batch "
    "PubMed search results automatically so that an arbitrary number can be retrieved. For "
    "details see https://www.ncbi.nlm.nih.gov/books/NBK25499/"
)
ESEARCH_JSON_HEADER = {"type": "esearch", "version": "0.3"}
NBK25497_RATE_LIMIT = {"error": "API rate limit exceeded", "count": "11"}  # NCBI's documented body


_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def escape(text: str) -> str:
    """Text for XML content: markup escaped, characters XML cannot carry dropped."""
    return _escape(_NOT_XML.sub("", text))


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str = XML_TYPE
    headers: dict[str, str] = field(default_factory=dict)
    spans: list[tuple[int, int]] = field(default_factory=list)  # record byte ranges in body


# --- esearch --------------------------------------------------------------------------------


@dataclass
class SearchPage:
    result: QueryResult
    count: int
    retstart: int
    ids: Sequence[int]
    messages: list[str]
    webenv: str | None = None
    query_key: int | None = None


def _stack_xml(stack: list) -> str:
    if not stack:
        return ""
    out = ["<TranslationStack>"]
    for item in stack:
        if isinstance(item, str):
            out.append(f"   <OP>{item}</OP>")
        else:
            term, fld, count, explode = item
            out.append(
                f"   <TermSet>    <Term>{escape(term)}</Term>    <Field>{escape(fld)}</Field>"
                f"    <Count>{count}</Count>    <Explode>{explode}</Explode>   </TermSet>"
            )
    return "".join(out) + "  </TranslationStack>"


def esearch_xml(page: SearchPage, *, extra: str = "", unknown_dtd: bool = False) -> bytes:
    r = page.result
    parts = [ESEARCH_UNKNOWN_DTD if unknown_dtd else ESEARCH_HEAD, "<eSearchResult>", extra]
    parts.append(f"<Count>{page.count}</Count><RetMax>{len(page.ids)}</RetMax>")
    parts.append(f"<RetStart>{page.retstart}</RetStart>")
    if page.webenv is not None:
        parts.append(f"<QueryKey>{page.query_key}</QueryKey><WebEnv>{page.webenv}</WebEnv>")
    if page.ids:
        parts.append("<IdList>\n" + "".join(f"<Id>{i}</Id>\n" for i in page.ids) + "</IdList>")
    else:
        parts.append("<IdList/>")
    if r.translation_set:
        parts.append("<TranslationSet>")
        for frm, to in r.translation_set:
            parts.append(
                f"<Translation>     <From>{escape(frm)}</From>     <To>{escape(to)}</To>"
                "    </Translation>"
            )
        parts.append("</TranslationSet>")
    else:
        parts.append("<TranslationSet/>")
    parts.append(_stack_xml(r.stack))
    parts.append(f"<QueryTranslation>{escape(r.translation)}</QueryTranslation>")
    if r.phrases_not_found or r.fields_not_found:
        parts.append("<ErrorList>")
        parts += [f"<PhraseNotFound>{escape(p)}</PhraseNotFound>" for p in r.phrases_not_found]
        parts += [f"<FieldNotFound>{escape(f)}</FieldNotFound>" for f in r.fields_not_found]
        parts.append("</ErrorList>")
    if r.phrases_ignored or r.quoted_not_found or page.messages:
        parts.append("<WarningList>")
        parts += [f"<PhraseIgnored>{escape(p)}</PhraseIgnored>" for p in r.phrases_ignored]
        parts += [
            f"<QuotedPhraseNotFound>{escape(q)}</QuotedPhraseNotFound>" for q in r.quoted_not_found
        ]
        parts += [f"<OutputMessage>{escape(m)}</OutputMessage>" for m in page.messages]
        parts.append("</WarningList>")
    parts.append("</eSearchResult>\n")
    return "".join(parts).encode()


def esearch_json(page: SearchPage, *, extra: bool = False) -> bytes:
    r = page.result
    res: dict = {
        "count": str(page.count),
        "retmax": str(len(page.ids)),
        "retstart": str(page.retstart),
    }
    if page.webenv is not None:
        res["querykey"] = str(page.query_key)
        res["webenv"] = page.webenv
    res["idlist"] = [str(i) for i in page.ids]
    res["translationset"] = [{"from": f, "to": t} for f, t in r.translation_set]
    if r.stack:
        res["translationstack"] = [
            item
            if isinstance(item, str)
            else dict(zip(("term", "field", "count", "explode"), item, strict=True))
            for item in r.stack
        ]
    res["querytranslation"] = r.translation
    if r.phrases_not_found or r.fields_not_found:
        res["errorlist"] = {
            "phrasesnotfound": list(r.phrases_not_found),
            "fieldsnotfound": list(r.fields_not_found),
        }
    if r.phrases_ignored or r.quoted_not_found or page.messages:
        res["warninglist"] = {
            "phrasesignored": list(r.phrases_ignored),
            "quotedphrasesnotfound": list(r.quoted_not_found),
            "outputmessages": list(page.messages),
        }
    if extra:
        res["standinunknownelement"] = "added by the stand-in"
    return (
        json.dumps({"header": ESEARCH_JSON_HEADER, "esearchresult": res}, indent=2) + "\n"
    ).encode()


def esearch_error(message: str, json_mode: bool) -> Reply:
    """An in-band error at HTTP 200: NCBI's `<ERROR>` (JSON: esearchresult.ERROR).

    The JSON text is built by hand, as NCBI's is: a message with a newline in it (the
    retstart error) then makes the reply invalid JSON, which is what NCBI really sends.
    """
    if json_mode:
        head = json.dumps({"header": ESEARCH_JSON_HEADER})[:-1]
        text = message.replace("\\", "\\\\").replace('"', '\\"')
        body = f'{head},"esearchresult":{{"ERROR":"{text}"}}}}\n'
        return Reply(200, body.encode(), JSON_TYPE)
    body = f"{ESEARCH_HEAD}<eSearchResult><ERROR>{escape(message)}</ERROR></eSearchResult>\n"
    return Reply(200, body.encode())


# --- efetch ---------------------------------------------------------------------------------


def efetch_xml(records: Sequence[bytes], *, dtd_url: str | None = None) -> Reply:
    """A PubmedArticleSet of the records' original bytes; `spans` locate each record."""
    doctype = PUBMED_DOCTYPE
    if dtd_url is not None:
        doctype = (
            '<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2099//EN" '
            f'"{dtd_url}">'
        )
    head = f'<?xml version="1.0" ?>\n{doctype}\n<PubmedArticleSet>\n'.encode()
    out = bytearray(head)
    spans = []
    for xml in records:
        spans.append((len(out), len(out) + len(xml)))
        out += xml + b"\n"
    out += b"</PubmedArticleSet>\n"
    return Reply(200, bytes(out), spans=spans)


def efetch_error(message: str) -> Reply:
    body = f'<?xml version="1.0" encoding="UTF-8" ?>\n<eFetchResult><ERROR>{escape(message)}</ERROR></eFetchResult>\n'
    return Reply(200, body.encode())


def inject_element(record: bytes, name: str, text: str, parent: str) -> bytes:
    """Add <name>text</name> as the last child of `parent` (or of the record's root)."""
    element = f"<{name}>{escape(text)}</{name}>".encode()
    for closing in (f"</{parent}>".encode(), b"</BookDocument>", b"</PubmedBookArticle>"):
        at = record.rfind(closing)
        if at >= 0:
            return record[:at] + element + record[at:]
    return record


# --- einfo ----------------------------------------------------------------------------------


def einfo(db: str | None, count: int, last_update: str, json_mode: bool) -> Reply:
    build = "Build-" + last_update.replace("/", ".").replace(" ", ".").replace(":", ".")
    info = {
        "dbname": "pubmed",
        "menuname": "PubMed",
        "description": "PubMed bibliographic record",
        "dbbuild": build,
        "count": str(count),
        "lastupdate": last_update,
    }
    if json_mode:
        if not db:
            result: dict = {"dblist": ["pubmed"]}
        elif db.lower() == "pubmed":
            result = {"dbinfo": [info]}
        else:
            result = {"dbinfo": [{"ERROR": f"Invalid db name specified: {db}"}]}
        doc = {"header": {"type": "einfo", "version": "0.3"}, "einforesult": result}
        return Reply(200, (json.dumps(doc, indent=2) + "\n").encode(), JSON_TYPE)
    if not db:
        inner = "<DbList>\n\t<DbName>pubmed</DbName>\n</DbList>"
    elif db.lower() == "pubmed":
        inner = (
            "\t<DbInfo>\n\t\t<DbName>pubmed</DbName>\n\t\t<MenuName>PubMed</MenuName>\n"
            "\t\t<Description>PubMed bibliographic record</Description>\n"
            f"\t\t<DbBuild>{build}</DbBuild>\n\t\t<Count>{count}</Count>\n"
            f"\t\t<LastUpdate>{last_update}</LastUpdate>\n\t</DbInfo>"
        )
    else:
        inner = f"<ERROR>Invalid db name specified: {escape(db)}</ERROR>"
    return Reply(200, f"{EINFO_HEAD}<eInfoResult>\n{inner}\n</eInfoResult>\n".encode())


def einfo_error(message: str) -> Reply:
    return Reply(
        200,
        f"{EINFO_HEAD}<eInfoResult>\n<ERROR>{escape(message)}</ERROR>\n</eInfoResult>\n".encode(),
    )


# --- elink ----------------------------------------------------------------------------------


@dataclass
class LinkSet:
    """One elink LinkSet: the ids asked together, and per link name the linked ids."""

    ids: Sequence[str]
    dbs: Sequence[tuple[str, Sequence[int]]]  # (linkname, links); empty ones are left out


def elink(linksets: Sequence[LinkSet], json_mode: bool, *, unknown_dtd: bool = False) -> Reply:
    """cmd=neighbor: one LinkSet per id group; a LinkSetDb only for a link name with links.

    XML laid out as NCBI's (Biopython's Tests/Entrez/elink3.xml); JSON as NCBI's retmode=json
    ("linksets" / "linksetdbs", ids as strings, no "linksetdbs" when nothing links).
    """
    if json_mode:
        sets = []
        for ls in linksets:
            one: dict = {"dbfrom": "pubmed", "ids": [str(i) for i in ls.ids]}
            dbs = [
                {"dbto": "pubmed", "linkname": name, "links": [str(i) for i in links]}
                for name, links in ls.dbs
                if links
            ]
            if dbs:
                one["linksetdbs"] = dbs
            sets.append(one)
        doc = {"header": ELINK_JSON_HEADER, "linksets": sets}
        return Reply(200, (json.dumps(doc, indent=2) + "\n").encode(), JSON_TYPE)
    parts = [ELINK_UNKNOWN_DTD if unknown_dtd else ELINK_HEAD, "<eLinkResult>\n"]
    for ls in linksets:
        parts.append("<LinkSet>\n\t<DbFrom>pubmed</DbFrom>\n\t<IdList>\n")
        parts += [f"\t\t<Id>{escape(str(i))}</Id>\n" for i in ls.ids]
        parts.append("\t</IdList>\n")
        for name, links in ls.dbs:
            if not links:
                continue
            parts.append(
                f"\t<LinkSetDb>\n\t\t<DbTo>pubmed</DbTo>\n\t\t<LinkName>{escape(name)}</LinkName>\n"
            )
            parts += [f"\t\t<Link>\n\t\t\t<Id>{i}</Id>\n\t\t</Link>\n" for i in links]
            parts.append("\t</LinkSetDb>\n")
        parts.append("</LinkSet>\n")
    parts.append("</eLinkResult>\n")
    return Reply(200, "".join(parts).encode())


def elink_error(message: str, json_mode: bool, *, in_linkset: bool = False) -> Reply:
    """An elink error at HTTP 200. Top level, `<eLinkResult><ERROR>` (outages, as observed:
    "NCBI C++ Exception: ... Read failed: EOF", biopython #4980's "Couldn't resolve
    #exLinkSrv2"); `in_linkset`: `<LinkSet><ERROR>`, NCBI's answer to a request it will not
    serve (rentrez #215: "Exception:\nllinkslib command not supported"). The JSON form is
    not attested: `{"header": ..., "ERROR": message}`.
    """
    if json_mode:
        doc = {"header": ELINK_JSON_HEADER, "ERROR": message}
        return Reply(200, (json.dumps(doc, indent=2) + "\n").encode(), JSON_TYPE)
    error = f"<ERROR>{escape(message)}</ERROR>"
    inner = f"<LinkSet>\n\t{error}\n</LinkSet>" if in_linkset else error
    return Reply(200, f"{ELINK_HEAD}<eLinkResult>\n{inner}\n</eLinkResult>\n".encode())


# --- HTTP-level errors ----------------------------------------------------------------------


def rate_limited(client: str, count: int, limit: int, retry_after: float | None = 1) -> Reply:
    body = json.dumps(
        {
            "error": "API rate limit exceeded",
            "api-key": client,
            "count": str(count),
            "limit": str(limit),
        },
        separators=(",", ":"),
    )
    headers = {"Retry-After": _seconds(retry_after)} if retry_after is not None else {}
    headers.update({"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": "0"})
    return Reply(429, body.encode(), JSON_TYPE, headers)


def invalid_api_key(key: str) -> Reply:
    # The shape of NCBI's reply, newline included, as captured from a real rejected key.
    quoted = json.dumps(key)
    body = f'{{"error":"API key invalid","api-key":{quoted},"type":"invalid",\n"status":"unknown"}}'
    return Reply(400, body.encode(), JSON_TYPE)


def html_error(status: int, retry_after: float | None = None) -> Reply:
    try:
        phrase, description = HTTPStatus(status).phrase, HTTPStatus(status).description
    except ValueError:
        phrase, description = "Error", "The server could not answer."
    body = (
        '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n'
        f"<title>{status} {phrase}</title>\n</head><body>\n<h1>{phrase}</h1>\n"
        f"<p>{escape(description)}</p>\n</body></html>\n"
    )
    headers = {"Retry-After": _seconds(retry_after)} if retry_after is not None else {}
    return Reply(status, body.encode(), HTML_TYPE, headers)


def json_reply(status: int, doc: object) -> Reply:
    return Reply(status, (json.dumps(doc, indent=2) + "\n").encode(), JSON_TYPE)


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
