"""PubMed's query language, enough for real saved queries, evaluated like NCBI does.

- AND / OR / NOT in any case, evaluated strictly left to right; parentheses group; two terms
  side by side are ANDed.
- Terms: words, "quoted phrases", trailing wildcard (`mitragyn*`), field tags (`[tiab]`,
  `[Title/Abstract]`, `[mh]`, `[mh:noexp]`, `[majr]`, `[sh]`, `[pt]`, `[la]`, `[au]`, `[ta]`,
  `[ot]`, `[ad]`, `[nm]`, `[aid]`, `[sb]`, `[pmid]`/`[uid]`, `[all]`, `[tw]`, `[ti]`, `[ab]`),
  proximity `"a b"[tiab:~3]`, date tags `[dp]`/`[pdat]`/`[crdt]`/`[edat]`/`[mdat]`/`[mhda]`
  with ranges `2021/01/01:2021/03/01[crdt]` or `"2021/01/01"[crdt] : "2021/03/01"[crdt]` and
  `"last 30 days"[crdt]`.
- Words in a tagged term form one phrase (`neuropathic pain[tiab]`); untagged words are
  ANDed in All Fields.
- A tiny automatic term mapping (ENTRY_TERMS) stands in for MeSH entry terms; MeSH
  explosion is not modelled (`[mh]` behaves like `[mh:noexp]`).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from .corpus import normalize_value, tokenize
from .search import Searcher, format_date, parse_date

OPERATORS = ("AND", "OR", "NOT")

# MeSH entry term -> descriptor, for the topics the shipped watches use (MeSH facts:
# "Kratom" is an entry term of Mitragyna, "Neuropathic Pain" of Neuralgia).
ENTRY_TERMS = {"kratom": "mitragyna", "neuropathic pain": "neuralgia"}


class QueryError(Exception):
    """A query NCBI's backend would refuse (unbalanced parentheses)."""


@dataclass(frozen=True)
class Field:
    key: str
    name: str  # NCBI's full name, as shown in QueryTranslation
    kind: str  # text | value | author | date | uid
    parts: tuple[str, ...] = ()
    explode: bool = False


_TIAB = ("ti", "ab", "ot")
_TW = ("ti", "ab", "ot", "mh", "sh", "pt", "nm")
_ALL = (*_TW, "au", "ta", "ad")


def _fields() -> dict[str, Field]:
    table = [
        (("tiab", "title/abstract"), Field("tiab", "Title/Abstract", "text", _TIAB)),
        (("ti", "title"), Field("ti", "Title", "text", ("ti",))),
        (("ab", "abstract"), Field("ab", "Abstract", "text", ("ab",))),
        (("tw", "text word", "text words"), Field("tw", "Text Word", "text", _TW)),
        (("all", "all fields"), Field("all", "All Fields", "text", _ALL)),
        (("ot", "other term"), Field("ot", "Other Term", "text", ("ot",))),
        (("ad", "affiliation"), Field("ad", "Affiliation", "text", ("ad",))),
        (("mh", "mesh", "mesh terms"), Field("mh", "MeSH Terms", "value", ("mh",), True)),
        (
            ("mh:noexp", "mesh:noexp", "mesh terms:noexp"),
            Field("mh:noexp", "MeSH Terms:noexp", "value", ("mh",)),
        ),
        (("majr", "mesh major topic"), Field("majr", "MeSH Major Topic", "value", ("majr",), True)),
        (
            ("majr:noexp", "mesh major topic:noexp"),
            Field("majr:noexp", "MeSH Major Topic:noexp", "value", ("majr",)),
        ),
        (("sh", "subheading", "mesh subheadings"), Field("sh", "Subheading", "value", ("sh",))),
        (("pt", "publication type", "ptyp"), Field("pt", "Publication Type", "value", ("pt",))),
        (("la", "language", "lang"), Field("la", "Language", "value", ("la",))),
        (("ta", "journal", "jour"), Field("ta", "Journal", "value", ("ta",))),
        (("nm", "substance name"), Field("nm", "Supplementary Concept", "value", ("nm",))),
        (
            ("aid", "article identifier"),
            Field("aid", "Article Identifier", "value", ("aid",)),
        ),
        (("sb", "filter"), Field("sb", "Filter", "value", ("sb",))),
        (("au", "author", "fau", "full author name"), Field("au", "Author", "author")),
        (("pmid", "uid"), Field("pmid", "UID", "uid")),
        (
            ("dp", "pdat", "publication date", "date - publication"),
            Field("pdat", "Date - Publication", "date", ("pdat",)),
        ),
        (
            ("crdt", "create date", "date - create"),
            Field("crdt", "Date - Create", "date", ("crdt",)),
        ),
        (
            ("edat", "entry date", "entrez date", "date - entry"),
            Field("edat", "Date - Entry", "date", ("edat",)),
        ),
        (
            ("mdat", "lr", "modification date", "date - modification"),
            Field("mdat", "Date - Modification", "date", ("mdat",)),
        ),
        (("mhda", "mesh date", "date - mesh"), Field("mhda", "Date - MeSH", "date", ("mhda",))),
    ]
    return {alias: f for aliases, f in table for alias in aliases}


FIELDS = _fields()
DATETYPES = {
    "crdt": FIELDS["crdt"],
    "edat": FIELDS["edat"],
    "pdat": FIELDS["pdat"],
    "mdat": FIELDS["mdat"],
    "mhda": FIELDS["mhda"],
}


# --- parsing ------------------------------------------------------------------------------


@dataclass
class Leaf:
    text: str  # term text without quotes or tag
    quoted: bool = False
    tag: str | None = None

    @property
    def raw(self) -> str:
        body = f'"{self.text}"' if self.quoted else self.text
        return f"{body}[{self.tag}]" if self.tag is not None else body


@dataclass
class Range:
    low: Leaf
    high: Leaf


@dataclass
class BinOp:
    op: str
    left: object
    right: object


@dataclass
class Group:
    inner: object


@dataclass
class Words:
    """Untagged words side by side: ANDed in All Fields (with entry-term mapping)."""

    words: list[str]


_TOKEN_RE = re.compile(r'\s*(?:(\()|(\))|"([^"]*)"?|\[([^\]]*)\]?|(:)|([^\s()"\[]+))')


def lex(query: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(query):
        m = _TOKEN_RE.match(query, pos)
        if m is None or m.end() == pos:
            break
        pos = m.end()
        lp, rp, quoted, tag, colon, word = m.groups()
        if lp:
            out.append(("LP", lp))
        elif rp:
            out.append(("RP", rp))
        elif quoted is not None:
            out.append(("Q", quoted))
        elif tag is not None:
            out.append(("TAG", tag))
        elif colon:
            out.append(("COLON", colon))
        elif word:
            out.append(("W", word))
    return out


class Parser:
    def __init__(self, query: str):
        self.toks = lex(query)
        self.i = 0
        self.ignored: list[str] = []

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> tuple[str, str]:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def parse(self):
        node = self.expr()
        if self.peek() is not None:
            raise QueryError("Unbalanced parentheses")
        return node

    def expr(self):
        node = self.operand()
        while (tok := self.peek()) is not None and tok[0] != "RP":
            op = "AND"
            if tok[0] == "W" and tok[1].upper() in OPERATORS:
                op = self.take()[1].upper()
                if self.peek() is None or self.peek()[0] == "RP":
                    self.ignored.append(op)
                    break
            node = BinOp(op, node, self.operand())
        return node

    def operand(self):
        tok = self.peek()
        if tok is None:
            return None
        kind, text = tok
        if kind == "LP":
            self.take()
            inner = self.expr()
            if self.peek() is None:
                raise QueryError("Unbalanced parentheses")
            self.take()
            return Group(inner)
        if kind == "RP":
            raise QueryError("Unbalanced parentheses")
        if kind in ("TAG", "COLON") or (kind == "W" and text.upper() in OPERATORS):
            self.take()
            self.ignored.append(f"[{text}]" if kind == "TAG" else text)
            return None
        leaf = self.term()
        if isinstance(leaf, Leaf) and self.peek() is not None and self.peek()[0] == "COLON":
            self.take()
            nxt = self.peek()
            if nxt is not None and nxt[0] in ("Q", "W") and nxt[1].upper() not in OPERATORS:
                high = self.term()
                if isinstance(high, Leaf):
                    return Range(leaf, high)
            self.ignored.append(":")
        return leaf

    def term(self):
        kind, text = self.take()
        if kind == "Q":
            return Leaf(text, quoted=True, tag=self._tag())
        words = [text]
        while (
            (tok := self.peek()) is not None and tok[0] == "W" and tok[1].upper() not in OPERATORS
        ):
            words.append(self.take()[1])
        tag = self._tag()
        if tag is not None or len(words) == 1:
            return Leaf(" ".join(words), tag=tag)
        return Words(words)

    def _tag(self) -> str | None:
        if (tok := self.peek()) is not None and tok[0] == "TAG":
            return self.take()[1]
        return None


# --- evaluation and translation -------------------------------------------------------------


@dataclass
class Part:
    hits: set[int]
    text: str  # QueryTranslation of this part
    stack: list  # TranslationStack: (term, field, count, explode) tuples and operator strings
    shape: str = "term"  # term | chain (a OP b, left to right) | mapped (a OR b, from ATM)

    def operand(self, right: bool) -> str:
        """Text as an operand of AND/OR/NOT; a left chain needs no parentheses (left to right)."""
        if self.shape == "mapped" or (right and self.shape == "chain"):
            return f"({self.text})"
        return self.text


@dataclass
class QueryResult:
    pmids: set[int]
    translation: str
    translation_set: list[tuple[str, str]] = field(default_factory=list)
    stack: list = field(default_factory=list)
    phrases_not_found: list[str] = field(default_factory=list)
    fields_not_found: list[str] = field(default_factory=list)
    quoted_not_found: list[str] = field(default_factory=list)
    phrases_ignored: list[str] = field(default_factory=list)


def _combine(op: str, left: Part | None, right: Part | None) -> Part | None:
    """NCBI drops a term it could not search; the operator then falls away with it."""
    if left is None:
        return None if op == "NOT" else right
    if right is None:
        return left
    if op == "AND":
        hits = left.hits & right.hits
    elif op == "OR":
        hits = left.hits | right.hits
    else:
        hits = left.hits - right.hits
    text = f"{left.operand(False)} {op} {right.operand(True)}"
    return Part(hits, text, [*left.stack, *right.stack, op], "chain")


class Evaluator:
    def __init__(self, searcher: Searcher, today: dt.date, default: Field):
        self.s = searcher
        self.today = today
        self.default = default  # the field of untagged terms
        self.result = QueryResult(set(), "")

    def run(self, query: str, date_filter: tuple[Field, int, int] | None = None) -> QueryResult:
        parser = Parser(query)
        node = parser.parse()
        r = self.result
        r.phrases_ignored.extend(parser.ignored)
        part = self.eval(node)
        if part is not None and part.shape == "term" and part.stack[-1:] != ["GROUP"]:
            part.stack.append("GROUP")
        if date_filter is not None and part is not None:
            f, lo, hi = date_filter
            key = f.key.upper()
            limit = Part(
                self.s.dates(f.parts[0], lo, hi),
                f"{format_date(lo)}:{format_date(hi)}[{f.name}]",
                [
                    (f"{format_date(lo)}[{key}]", key, "0", "N"),
                    (f"{format_date(hi)}[{key}]", key, "0", "N"),
                    "RANGE",
                    "GROUP",
                ],
            )
            body = f"({part.text})" if part.shape != "term" else part.text
            part = Part(
                part.hits & limit.hits,
                f"{body} AND {limit.text}",
                [*part.stack, *limit.stack, "AND"],
                "chain",
            )
        if part is None:
            r.translation = " ".join(query.split())
            return r
        r.pmids, r.translation, r.stack = part.hits, part.text, part.stack
        return r

    def eval(self, node) -> Part | None:
        if node is None:
            return None
        if isinstance(node, Group):
            inner = self.eval(node.inner)
            if inner is None or inner.shape == "term":
                return inner
            return Part(inner.hits, f"({inner.text})", [*inner.stack, "GROUP"], "term")
        if isinstance(node, BinOp):
            return _combine(node.op, self.eval(node.left), self.eval(node.right))
        if isinstance(node, Words):
            return self.words(node)
        if isinstance(node, Range):
            return self.range(node)
        return self.leaf(node)

    def words(self, node: Words) -> Part | None:
        anded: Part | None = None
        for w in node.words:
            anded = _combine("AND", anded, self.leaf(Leaf(w))) if anded else self.leaf(Leaf(w))
        phrase = " ".join(tokenize(" ".join(node.words)))
        if phrase in ENTRY_TERMS and self.default.key == "all":
            return self._mapped(" ".join(node.words), phrase, anded)
        return anded

    def _mapped(self, raw: str, phrase: str, plain: Part | None) -> Part | None:
        """Automatic term mapping: descriptor[MeSH] OR descriptor[All Fields] OR the term."""
        descriptor = ENTRY_TERMS[phrase]
        pieces = [
            self._lookup(FIELDS["mh"], descriptor, False, None),
            self._lookup(FIELDS["all"], descriptor, False, None),
        ]
        if plain is not None:
            pieces.append(plain)
        if " " in phrase:
            pieces.append(self._lookup(FIELDS["all"], phrase, False, None))
        hits: set[int] = set()
        stack: list = []
        for i, p in enumerate(pieces):
            hits |= p.hits
            stack.extend(p.stack if i == 0 else [*p.stack, "OR"])
        text = " OR ".join(p.operand(True) for p in pieces)
        self.result.translation_set.append((raw, text))
        if not hits:
            self.result.phrases_not_found.append(raw)
            return None
        return Part(hits, text, [*stack, "GROUP"], "mapped")

    def _field(self, tag: str) -> Field | None:
        name = re.sub(r":~\d+$", "", " ".join(tag.strip().lower().split()))
        f = FIELDS.get(name)
        if f is None:
            self.result.fields_not_found.append(tag.strip())
        return f

    def range(self, node: Range) -> Part | None:
        tag = node.high.tag if node.high.tag is not None else node.low.tag
        f = self._field(tag) if tag is not None else None
        if tag is not None and f is None:
            return None
        lo = parse_date(node.low.text, self.today) if f and f.kind == "date" else None
        hi = parse_date(node.high.text, self.today) if f and f.kind == "date" else None
        if f is None or lo is None or hi is None:
            self.result.phrases_not_found.append(f"{node.low.raw}:{node.high.raw}")
            return None
        low, high, key = format_date(lo[0]), format_date(hi[1]), f.key.upper()
        hits = self.s.dates(f.parts[0], lo[0], hi[1])
        stack = [(f"{low}[{key}]", key, "0", "N"), (f"{high}[{key}]", key, "0", "N"), "RANGE"]
        return Part(hits, f"{low}:{high}[{f.name}]", stack)

    def leaf(self, leaf: Leaf) -> Part | None:
        near = None
        f = self.default
        if leaf.tag is not None:
            f = self._field(leaf.tag)
            if f is None:
                return None
            if m := re.search(r":~(\d+)\s*$", leaf.tag):
                near = int(m.group(1))
        text = leaf.text.strip()
        if f.kind == "date" and ":" in text and not text.lower().startswith("last"):
            low, _, high = text.partition(":")
            return self.range(Range(Leaf(low, tag=leaf.tag), Leaf(high, tag=leaf.tag)))
        prefix = text.endswith("*")
        text = text.rstrip("*").strip()
        phrase = " ".join(tokenize(text))
        if leaf.tag is None and phrase == "hasabstract":  # a filter, though written as a word
            f = FIELDS["sb"]
        mappable = leaf.tag is None and f.key == "all" and not leaf.quoted and not prefix
        if mappable and phrase in ENTRY_TERMS:
            return self._mapped(leaf.text, phrase, self._lookup(f, text, False, None))
        if f.kind == "value" and f.parts[0] == "mh" and phrase in ENTRY_TERMS:
            part = self._lookup(f, ENTRY_TERMS[phrase], prefix, near)
            if part is not None:
                self.result.translation_set.append((leaf.raw, part.text))
        else:
            part = self._lookup(f, text, prefix, near)
        if part is None:  # nothing searchable in it, e.g. "-"
            self.result.phrases_ignored.append(leaf.raw)
            return None
        if not part.hits:
            self.result.phrases_not_found.append(leaf.raw)
            if leaf.quoted:
                self.result.quoted_not_found.append(f'"{leaf.text}"')
            return None
        return part

    def _lookup(self, f: Field, text: str, prefix: bool, near: int | None) -> Part | None:
        star = "*" if prefix else ""
        if f.kind == "text":
            words = tokenize(text)
            if not words:
                return None
            hits = self.s.text(f.parts, words, prefix, near)
            name = f"{f.name}:~{near}" if near else f.name
            term = f'"{" ".join(words)}{star}"[{name}]'
        elif f.kind in ("value", "author"):
            value = normalize_value(text)
            if not value:
                return None
            if f.kind == "author":
                hits = self.s.author(value, prefix)
            else:
                hits = self.s.value(f.parts[0], value, prefix)
            term = f'"{value}{star}"[{f.name}]'
        elif f.kind == "uid":
            hits = self.s.uid(int(text)) if text.isdigit() else set()
            term = f"{text}[{f.name}]"
        else:  # date
            span = parse_date(text, self.today)
            hits = self.s.dates(f.parts[0], *span) if span else set()
            if span is None:
                term = f"{text}[{f.name}]"
            elif span[0] == span[1]:
                term = f"{format_date(span[0])}[{f.name}]"
            else:
                term = f"{format_date(span[0])}:{format_date(span[1])}[{f.name}]"
        explode = "Y" if f.explode else "N"
        return Part(hits, term, [(term, f.name, str(len(hits)), explode)])


def run_query(
    query: str,
    searcher: Searcher,
    today: dt.date,
    date_filter: tuple[Field, int, int] | None = None,
    *,
    field: str | None = None,
) -> QueryResult:
    """Evaluate `query` (untagged terms in `field`, else All Fields).

    Raises QueryError for what NCBI's backend refuses (unbalanced parentheses).
    """
    default = FIELDS["all"]
    unknown = []
    if field is not None:
        name = " ".join(field.lower().split())
        if name in FIELDS:
            default = FIELDS[name]
        else:
            unknown.append(field)
    evaluator = Evaluator(searcher, today, default)
    evaluator.result.fields_not_found.extend(unknown)
    return evaluator.run(query, date_filter)
