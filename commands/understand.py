"""From a question as typed to one ``Query``: ``parse_query``.

The question is read in its ``vocabulary.prep`` form, piece by piece; each piece that is
understood is taken out of the text (masked), in this order: a glossary question ("what is
NRR?", not "解約率を教えて", which asks for the number), the command named first, typed filters
(``segment:smb``, ``担当: 山田``, ``--filter plan=pro``), an account name that matches exactly
(for ``health``: it wins over any period reading, ``Q3 Labs``), the shapes of answer
(comparison, list, count words), metric names, trend and breakdown words, periods
(``commands.periods.find_period_spans``), command words, filter values named in words, then
stop words. Whatever is left is either the account a command takes (``health``) or
``Query.unknown``: words that could change the answer, which the router names back to the
asker instead of answering another question.

A filter value the data does not hold (``segment:enterpise``, an unknown owner) is unknown too,
with the data's nearest values as suggestions; a period that has not started is refused
(``PeriodNotStarted``). ``missing`` says what an understood query still lacks (a metric, the
other side of a comparison) once a thread's follow-up had its chance to fill it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rapidfuzz import fuzz, process
from sqlalchemy import Connection

from commands import periods as period_words
from commands.arguments import ME_WORDS, PERIOD_LIKE, owner_ids
from commands.glossary import extract_term
from commands.messages import t
from commands.query import Query
from commands.vocabulary import DIMENSION_WORDS, NEAR_METRICS, Vocabulary, filter_key, headline_metric, key, prep, vocabulary
from metrics import catalog
from metrics.filters import NO_FILTERS, Filters

if TYPE_CHECKING:
    from commands.context import Context

logger = logging.getLogger(__name__)

SUGGEST_SCORE = 75.0  # rapidfuzz ratio for a "did you mean"
# Commands whose text is their own grammar (subcommands, channels, times, a term): read by the command.
OWN_GRAMMAR = ("digest", "sync", "term", "help")
# Commands whose left-over words are an account name (or their own words: mine, dropped, backtest).
TAKES_ACCOUNT = ("health",)

# ---- words no table holds: how a shape of answer is asked ----------------------------------

_B = r"(?<![\w-])"  # a word starts here
_E = r"(?![\w-])"  # ... and ends here


def _words(*alternatives: str) -> str:
    return "(?:" + "|".join(sorted(alternatives, key=len, reverse=True)) + ")"


# "how is this computed" (the how button's word), not "how many" or "how is acme doing".
_HOW = re.compile(_B + r"how\s+(?:is|was|are|were|do\s+you|did\s+you)?\s*(?:this|that|it|these|they)?\s*"
                  r"(?:computed|calculated|worked\s+out)" + _E
                  + r"|" + _B + r"how\s+(?:do|does|did)\s+(?:you|we|csbot|it)\s+(?:calculate|compute|work\s+out)" + _E
                  + r"|計算方法|計算式|どう(?:やって)?計算|算出方法")
_HOW_AROUND = re.compile(_B + r"(?P<a>how\s+(?:is|are|was|were|do\s+you|did\s+you|does\s+csbot)(?:\s+the|\s+our|\s+my)?)"
                         r"\s+\S.{0,40}?\s+(?P<b>computed|calculated|worked\s+out)" + _E)
# count words that name accounts themselves ("何社", "paying customers"), and every count word
_ACCOUNT_COUNT_EN = r"(?:paying\s+)?(?:customer|account)\s+count|paying\s+(?:customers|accounts)"
_ACCOUNT_COUNT_JA = r"何社|有料顧客数|有料顧客|契約社数|契約数|社数|顧客数|会社数|アカウント数"
_COUNTS_ACCOUNTS = re.compile(_ACCOUNT_COUNT_EN + "|" + _ACCOUNT_COUNT_JA)
# "active users" named without its window is the window of the period asked: a day's, a week's (else MAU)
_ACTIVE_BY_GRAIN = {"day": "dau", "week": "wau"}
_SAYS_MONTHLY = re.compile(r"monthly|mau|月次|月間")
# How many people: the question word of a metric that counts users; never a count of accounts.
_PEOPLE = re.compile(r"何人")
_COUNT = re.compile(_B + r"(?:(?:how\s+many|number\s+of|count\s+of|#\s*of)(?:\s+paying)?|" + _ACCOUNT_COUNT_EN + ")" + _E
                    + r"|何件|件数|" + _ACCOUNT_COUNT_JA)
_ACCOUNTS = re.compile(_B + r"(?:accounts?|customers?|clients?|companies|company|logos?)" + _E
                       + r"|顧客|お客様|お客さま|会社|企業|アカウント")
# The command word "accounts" (a page of the accounts behind a number): last, or before a page number.
_ACCOUNTS_PAGE = re.compile(r"(?<!\bfor )(?<!\bof )(?<!'s )(?<!\bmy )\b(accounts)(?=(?:\s+\d{1,3})?\s*$)")
# "top 10", "ワースト5", "上位10社": the first rows of a list (read only when the question is a list)
_TOP = re.compile(_B + r"(?:top|worst|first)\s*(?P<n>\d{1,4})" + _E
                  + r"|(?:トップ|ワースト|上位|先頭)\s*(?P<n2>\d{1,4})\s*(?:社|件|位)?(?:まで)?")
_LIST_CUE = re.compile(_B + r"(?:which|who|list|show|top|what)" + _E + r"|一覧|リスト|どこ|どの|誰")
# what happened to the accounts listed (movements of MRR), EN and JA
_MOVEMENTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("early_churn", re.compile(_B + r"(?:churned\s+early|left\s+early|early\s+churn(?:ed)?)" + _E + r"|早期解約(?:した)?")),
    ("churn", re.compile(_B + r"(?:churned|cancell?ed|left|lost)" + _E + r"|解約(?:した|済み?)?(?!率)|離脱(?:した)?(?!率)|チャーンした")),
    ("reactivation", re.compile(_B + r"(?:reactivated|came\s+back|returned)" + _E + r"|再開(?:した)?|復活(?:した)?")),
    ("expansion", re.compile(_B + r"(?:expanded|upgraded|grew)" + _E + r"|拡大(?:した)?|アップグレード(?:した)?|増額(?:した)?")),
    ("contraction", re.compile(_B + r"(?:contracted|downgraded|shrank)" + _E + r"|縮小(?:した)?|ダウングレード(?:した)?|減額(?:した)?")),
    ("new", re.compile(_B + r"(?<!net\s)(?:new|joined|signed\s+up|won)" + _E + r"|新規(?:契約)?(?:した)?|新しく契約した")),
)
# "who dropped to red": the health command's own view
_DROPPED_TO_RED = re.compile(_B + r"(?:dropped|fell|went|turned)\s+(?:to\s+|into\s+)?red" + _E
                             + r"|(?:赤|レッド)(?:に|へ)(?:なった|落ちた|転落した)?")
_HEALTH_DROP = re.compile(
    _B + r"(?:health(?:\s+score)?s?\s+(?:has\s+|have\s+)?(?:dropped|fell|fallen|declined|decreased|went\s+down)"
    r"|(?:dropped|fell|declined)\s+in\s+health)(?:\s+by)?"
    r"(?:\s+(?:more\s+than\s+|over\s+|at\s+least\s+)?(?P<n>\d+)\s*(?:points?|pts?))?" + _E
    + r"|ヘルス(?:スコア)?\s*(?:が|の)?\s*(?:(?P<n2>\d+)\s*(?:ポイント|点|pt)\s*(?:以上)?)?\s*"
      r"(?:下がった|低下した|低下|悪化した|落ちた|下落した)")
_RENEWALS = re.compile(
    _B + r"(?:upcoming\s+)?renewals?(?:\s+(?:due|coming\s+up|upcoming|coming))?"
         r"(?:(?:\s+(?:in|within|over))?(?:\s+the)?(?:\s+next)?\s+(?P<n>\d+)\s*days?)?" + _E
    + r"|" + _B + r"(?:renewing|renew(?:s|ed)?)(?:(?:\s+(?:in|within))?(?:\s+the)?(?:\s+next)?\s+(?P<n2>\d+)\s*days?)?" + _E
    + r"|(?:(?P<n3>\d+)\s*日以内(?:に|の)?\s*)?(?:契約)?更新(?:が|の)?(?:近い|間近|予定|時期が近い|が来る|する|される|を迎える)?")
_BAND = re.compile(
    _B + r"(?:in\s+(?:the\s+)?)?(?P<band>red|yellow|green)(?:\s+band)?" + _E
    + r"|(?P<risk>" + _B + r"(?:at[\s-]risk|risky)" + _E + r"|リスクの高い|リスクが高い|危険な?|要注意の?)"
    + r"|(?P<ja>赤|レッド|黄色|黄|イエロー|緑|グリーン)(?:の|ゾーン|バンド)?")
# at risk said with a metric's or the health command's words, so read on the whole text ("churn risk",
# "解約しそうな", "ヘルススコアが低い"): every band the model calls risky, as "at risk" is
_RISK = re.compile(
    _B + r"(?:churn[\s-]risk|risk\s+of\s+(?:churn(?:ing)?|leaving)|(?:likely|about)\s+to\s+(?:churn|cancel|leave)"
    r"|unhealthy|least\s+healthy|(?:low|lowest|poor|worst)\s+health(?:\s+scores?)?)" + _E
    + r"|(?:解約|離脱|チャーン)(?:リスク|の(?:リスク|恐れ|おそれ|懸念))(?:が|の)?(?:ある|高い|大きい)?の?"
    r"|(?:解約|離脱)(?:し|され)そうな?|(?:解約|離脱)懸念の?|ヘルス(?:スコア)?(?:が|の)?低い|リスクの?ある|リスク(?=顧客)")
_JA_BANDS = {"赤": "red", "レッド": "red", "黄色": "yellow", "黄": "yellow", "イエロー": "yellow", "緑": "green",
             "グリーン": "green"}
_OWNED_BY = re.compile(_B + r"(?:owned|managed|handled)\s+by\s+(?P<who>[^\s?？!,、。]+)")
_POSSESSIVE = re.compile(_B + r"(?P<who>[a-z][\w.]*)['’]s" + _E)
_HONORIFIC = re.compile(r"\s*(?:さん|様|さま|氏)")
_MY = re.compile(_B + r"(?:my|mine)" + _E + r"|自分の|私の|わたしの")

# comparisons: a cue word, or a named offset (year over year ...)
_OFFSETS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("yoy", re.compile(_B + r"(?:yoy|year[\s-]over[\s-]year|vs\.?\s+last\s+year)" + _E + r"|前年(?:同月|同期)?比|昨対|対前年")),
    ("qoq", re.compile(_B + r"(?:qoq|quarter[\s-]over[\s-]quarter)" + _E + r"|前(?:四半)?期比")),
    ("mom", re.compile(_B + r"(?:mom|month[\s-]over[\s-]month)" + _E + r"|前月比")),
)
# (Japanese: the longest form first, so "を比較して" leaves nothing behind)
_COMPARE = re.compile(_B + r"(?:vs\.?|versus|compared?\s+(?:to|with)|compare|against|difference\s+between|difference)" + _E
                      + r"|を比較して|と比較して|を比べて|と比べて|比較して|と比較|を比較|比較|比べて|の違い|違い|の差|差分")

# trends: the grain. "四半期で", "週で", "月で" ("quarterly"...) only where no period word ends in them:
# 今四半期で, 先週で, 3月で, 3か月で, 第2四半期で are periods, read later
_NOT_A_PERIOD = r"(?<![今前先昨来次当翌毎々第0-9０-９一二三四五六七八九十ヶヵかカケ])"
_GRAINS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("quarter", re.compile(_B + r"(?:quarterly|by\s+quarter|per\s+quarter|each\s+quarter|quarter\s+by\s+quarter)" + _E
                           + r"|四半期(?:ごと|毎|別|単位)|四半期推移|" + _NOT_A_PERIOD + r"四半期で")),
    ("week", re.compile(_B + r"(?:weekly|by\s+week|per\s+week|each\s+week|week\s+by\s+week)" + _E
                        + r"|週次|週ごと|週毎|週別|週単位|毎週|" + _NOT_A_PERIOD + r"週で")),
    ("month", re.compile(_B + r"(?:monthly|by\s+month|per\s+month|each\s+month|month\s+by\s+month)" + _E
                         + r"|月次|月ごと|月毎|月別|月単位|毎月|" + _NOT_A_PERIOD + r"月で")),
    ("", re.compile(_B + r"(?:trend|trends|over\s+time|history|trajectory)" + _E + r"|推移|トレンド|経過|変化")),
)
# "is churn going up?": which way it moves is a trend's first line (not where accounts are named:
# "accounts with usage going down", "MRRが増えている顧客" ask for accounts, which a trend would drop)
_DIRECTION = re.compile(_B + r"(?:going\s+(?:up|down)|trending(?:\s+(?:up|down))?|increasing|decreasing|rising|falling"
                    r"|growing|shrinking|getting\s+(?:better|worse)|improving|worsening)" + _E
                    + r"|(?:上が|下が|増え|減|伸び|改善し|悪化し|上昇し|低下し)(?:って|て)(?:いますか|います|いる|る)")
_AFTER_VALUE = r"\s*(?:の\s*)?"  # "alice の担当", "pro plan"
_BY_EN = r"(?:by|per|for\s+each|each|across|split\s+by|broken\s+down\s+by|breakdown\s+by)"
_BY_JA = r"\s*(?:別|ごと|毎)"

_STOP_PHRASES = re.compile(_B + r"(?:(?:the\s+)?(?:whole|entire)\s+company|company[\s-]wide)" + _E + r"|会社全体|全社")

# typed filters: key:value (a Slack mention as one value), --filter key=value
_TYPED = re.compile(r"(?<!\S)(?:--filter\s+(?P<fkey>[a-z_]+)\s*=\s*(?P<fvalue>\S+)"
                    r"|(?P<key>[a-z_]+|担当者?|セグメント|プラン|地域|リージョン|タッチモデル)\s*:\s*"
                    r"(?P<value><@[^>]+>|[^\s:]\S*))")

# stop words: consumed wherever they stand (EN: whole words; JA: at the edges of what is left)
STOP_EN = frozenset("""
what what's whats which is are was were be been the a an of for in on at please pls show me tell give our us we
you your do did does have has had to and about with can could would i get got see current currently now total value
values number rate how's hows how about overall all everything look looks like then so just data
figure figures numbers there here it its that this these those as during whose whom change changed changing going
? ! . , ; :
""".split())
STOP_JA = tuple(sorted("""
教えてください 教えて下さい 教えてくれますか 教えて おしえて 知りたいです 知りたい 見せてください 見せて 表示して 出して ください 下さい
でしたか ですか でした です ますか ますか でしょうか だった は? は？ ? ！ ! 。 、 , ・
について どう どれくらい どのくらい いくら いくつ 全体 全社 会社全体 弊社 当社 自社 うちの 現在の 現在 今の 最新の 最新
数値 値 内訳 していますか しています している してる の は を が で に と も って や へ 中 だけ のみ
""".split(), key=len, reverse=True))


class _Text:
    """The question in ``prep`` form, with the parts already understood masked out (spaces)."""

    def __init__(self, text: str):
        self.low = prep(text).lower()
        self.orig = prep(text) if len(prep(text)) == len(self.low) else self.low
        self.chars = list(self.low)

    @property
    def rest(self) -> str:
        return "".join(self.chars)

    def take(self, start: int, end: int) -> str:
        piece = self.orig[start:end]
        for i in range(start, end):
            self.chars[i] = " "
        return piece

    def take_match(self, m: re.Match[str]) -> str:
        return self.take(m.start(), m.end())

    def search(self, regex: re.Pattern[str]) -> re.Match[str] | None:
        return regex.search(self.rest)

    def take_word(self, word: str) -> int | None:
        """Take one occurrence of a vocabulary word (whole word when it is Latin); where it stood."""
        m = re.search(_word_regex(word), self.rest)
        if m is None:
            return None
        self.take_match(m)
        return m.start()

    def empty(self) -> bool:
        return not self.rest.strip()


def _word_regex(word: str) -> str:
    escaped = re.escape(word).replace(r"\ ", r"\s+")
    if word[:1].isascii() and word[:1].isalnum():
        escaped = _B + escaped
    if word[-1:].isascii() and word[-1:].isalnum():
        escaped = escaped + _E
    return escaped


# ---- the parser --------------------------------------------------------------------------------

@dataclass
class _Found:
    """What has been read so far."""

    command: str | None = None
    explicit: bool = False  # the command was named first (or by the surface)
    metrics: list[str] = field(default_factory=list)
    periods: list[period_words.FoundPeriod] = field(default_factory=list)
    filters: dict[str, object] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)
    suggestions: list[str] = field(default_factory=list)
    words: list[str] = field(default_factory=list)
    part: str | None = None  # the first part of a metric named (``Query.part``)
    part_words: str = ""  # the words that named it
    active_users: bool = False  # "active users" without saying daily, weekly or monthly (``_ACTIVE_BY_GRAIN``)


def parse_query(text: str, ctx: Context, lang: str, *, command: str | None = None,
                conn: Connection | None = None) -> Query:
    """``text`` (a question, or a slash command's arguments when ``command`` names it) as one ``Query``.

    ``conn``: the request's connection; the data's dimension values and account names are the
    vocabulary then (without it, as in a slash command's ack, only the catalog's and the
    message table's words are known and a filter value is taken as typed)."""
    vocab = vocabulary(conn)
    s = _Text(text)
    f = _Found()
    cleaned = " ".join(text.split())

    # 1. a glossary question ("what is NRR?", "NRRって何？"); "解約率を教えて" asks for the number
    if command is None:
        term = extract_term(s.orig)
        if term and _is_definition(s.low) and not _TYPED.search(s.low):
            return Query(intent="define", command="term", term=term, text=cleaned)

    # 2. the command named first ("churn last-month", "/churn" with its arguments)
    if command is not None:
        f.command, f.explicit = command, True
    else:
        m = _first_command(s.rest, vocab)
        longer = m is not None and any(a.startswith(m[1] + " ") and re.match(r"\s*" + _word_regex(a), s.rest)
                                       for a in vocab.metrics)
        if m is not None and not longer:  # "onboarding completion rate ..." names a metric, not the command
            f.command, f.explicit = vocab.commands[m[1]], True
            s.take(m.start(1), m.end(1))
            if m[1] in vocab.metrics:  # "arr last month": the command mrr, the metric ARR
                f.metrics.append(vocab.metrics[m[1]])
    if f.command in OWN_GRAMMAR:
        return Query(intent="help" if f.command == "help" else "command", command=f.command,
                     words=tuple(s.rest.split()), text=cleaned)

    # 3. typed filters
    _typed_filters(s, f, vocab, ctx, lang)

    # 4. a command that takes an account: an exact account name wins over any other reading
    if f.command in TAKES_ACCOUNT or (not f.explicit and _mentions_health(s, vocab)):
        account = _exact_account(s, vocab, conn)
        if account is not None:
            return Query(intent="command", command="health", account=account, filters=_filters(f),
                         text=cleaned)

    # 5. shapes of answer
    shape = _shapes(s, f, vocab, ctx, lang)

    # 6. metric names, longest first
    named: list[tuple[int, str]] = []
    parts: list[tuple[int, str, str]] = []  # (where, part, the alias as the catalog writes it)
    for alias in sorted(vocab.metrics, key=len, reverse=True):
        while (pos := s.take_word(alias)) is not None:
            named.append((pos, vocab.metrics[alias]))
            if vocab.metrics[alias] == "mau" and not _SAYS_MONTHLY.search(alias):
                f.active_users = True
            part = next(((p, a) for a, p in catalog.get(vocab.metrics[alias]).part_aliases.items() if key(a) == alias),
                        None)
            if part is not None:
                parts.append((pos, *part))
    f.metrics = _in_order(f.metrics + [name for _, name in sorted(named)])
    if parts:
        _, f.part, f.part_words = min(parts)
    _shapes_after_metrics(s, shape, vocab)

    # 7. periods (commands.periods reads them: spans, fiscal years, "to date"; refuses one not started)
    fiscal = ctx.settings.fiscal_year_start
    if f.command in TAKES_ACCOUNT:  # "/health Company 0007": what is not a period is the account's name
        spans = [x for x in period_words.find_period_spans(s.rest, ctx.today, lang, fiscal, keep_errors=True)
                 if x.period is not None]
    else:  # renewals are what is due: next month is a period to ask about, not one not started
        spans = period_words.find_period_spans(s.rest, ctx.today, lang, fiscal,
                                               future=shape.get("listing") == "renewals")
    for found in spans:
        f.periods.append(found)
        s.take(found.start, found.end)

    # 8. command words (longest first): the command a question points to
    keyword_command = None
    for word in sorted(vocab.commands, key=len, reverse=True):
        if re.search(r"\w", word) and s.take_word(word) is not None:
            keyword_command = keyword_command or vocab.commands[word]
    if f.explicit:
        for token in ("how", "page"):
            while s.take_word(token) is not None:
                f.words.append(token)
        # "churn last-month accounts 2" (the "Show accounts" button): the page of accounts; "NRR for
        # accounts owned by bob", "churn for bob's accounts" name whose number is asked
        m = _ACCOUNTS_PAGE.search(s.rest)
        if m is not None:
            s.take(m.start(1), m.end(1))
            f.words.append("accounts")
        if "accounts" in f.words:
            for m in list(re.finditer(_B + r"\d{1,3}" + _E, s.rest)):
                f.words.append(m[0])
                s.take_match(m)

    # 9. filter values named in words; "my churn", "自分の顧客": the asker's accounts
    _named_values(s, f, vocab, shape, lang)
    if (f.command or keyword_command) not in TAKES_ACCOUNT and (m := s.search(_MY)) is not None:
        s.take_match(m)
        _set_filter(f, "owner", owner_ids("me", ctx, lang))

    # 10. stop words, and what is left
    while (m := s.search(_STOP_PHRASES)) is not None:
        s.take_match(m)
    command_name = f.command or _command_of(f.metrics) or keyword_command or shape.get("command")
    if shape.get("intent") not in ("list", "count") and command_name not in TAKES_ACCOUNT:
        _take_account_words(s, vocab)  # "テックタッチの顧客のNPS": the customers' NPS
    left = _leftover(s)
    if command_name in TAKES_ACCOUNT and not shape.get("intent"):
        if f.explicit:  # "/health A": the words as typed (an account id may look like a stop word)
            left = [s.orig[m.start():m.end()] for m in re.finditer(r"\S+", s.rest)]
        words = tuple(f.words) + tuple(left)
        return Query(intent="command", command=command_name, periods=tuple(x.period for x in f.periods),
                     period_words=tuple(x.text for x in f.periods), filters=_filters(f), words=words,
                     metrics=("health_score",), text=cleaned)
    if f.explicit and not f.periods:  # "/nps lastmonth": a mistyped period is said to be one
        for word in left:
            if PERIOD_LIKE.search(word):
                raise period_words.PeriodError(word, lang)
    for word in left:
        f.unknown.append(word)
        f.suggestions.extend(_suggest(word, vocab))
    return _decide(f, shape, command_name, cleaned, ctx, lang)


def _first_command(text: str, vocab: Vocabulary) -> re.Match[str] | None:
    """The command name or alias the text starts with ("kpi ボード" is the alias KPIボード), longest first."""
    names = sorted(vocab.command_names, key=len, reverse=True)
    return re.match(r"\s*(" + "|".join(re.escape(n) for n in names) + r")(?=\s|$)", text)


def _in_order(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


_DEFINE_CUES = re.compile(_B + r"(?:what\s+is|what's|whats|what\s+are|what\s+does|define|definition|meaning|mean|means|explain)"
                          + _E + r"|とは|って何|ってなに|ってなん|って\?|意味|定義|について|説明")


def _is_definition(low: str) -> bool:
    """A "what is X" question, not "X を教えて" (which asks for X's number)."""
    return _DEFINE_CUES.search(low) is not None


def _mentions_health(s: _Text, vocab: Vocabulary) -> bool:
    return any(cmd == "health" and re.search(_word_regex(w), s.rest) for w, cmd in vocab.commands.items())


def _exact_account(s: _Text, vocab: Vocabulary, conn: Connection | None) -> str | None:
    """The words left (without the health command's words and stop words) when they name one account exactly."""
    if conn is None:
        return None
    probe = _Text(s.orig)
    probe.chars = list(s.rest)
    for word in sorted(vocab.commands, key=len, reverse=True):
        if vocab.commands[word] == "health":
            while probe.take_word(word) is not None:
                pass
    raw = " ".join(probe.orig[m.start():m.end()] for m in re.finditer(r"\S+", probe.rest))
    words = [_strip_ja_edges(probe.orig[m.start():m.end()]).strip("?？!！。、,") for m in re.finditer(r"\S+", probe.rest)]
    words = [w for w in words if w]
    while words and words[0].lower() in STOP_EN:
        words.pop(0)
    while words and words[-1].lower() in STOP_EN:
        words.pop()
    from commands.accounts import match_names
    from metrics.accounts import accounts_by_id_or_name, all_accounts

    names = [n for n in dict.fromkeys((raw.strip(), " ".join(words))) if n]
    for name in names:  # the id or the name as stored (SQL)
        found = accounts_by_id_or_name(conn, name)
        if len(found) == 1 or any(r.account_id == name for r in found):
            return name
    if not names:
        return None
    match = match_names(names[-1], all_accounts(conn))  # the name as people type it: "ＡＣＭＥ　ｃｏｒｐ", "(株)アクメ"
    return names[-1] if match.exact is not None and match.how in ("name", "legal-form") else None


def _typed_filters(s: _Text, f: _Found, vocab: Vocabulary, ctx: Context, lang: str) -> None:
    for m in list(_TYPED.finditer(s.rest)):
        key = m["fkey"] or m["key"]
        raw = s.orig[m.start("fvalue"):m.end("fvalue")] if m["fkey"] else s.orig[m.start("value"):m.end("value")]
        if raw.startswith("//"):
            continue
        if not raw.isascii():  # "担当:山田の解約率": the value ends at a particle
            raw = re.split(r"[のはをがでにと]", raw, maxsplit=1)[0] or raw
            end = (m.start("value") if m["value"] else m.start("fvalue")) + len(raw)
        else:
            end = m.end()
        s.take(m.start(), end)
        typed = f"{key}:{raw}"
        dim = filter_key(key)
        if dim is None:
            f.unknown.append(typed)
            close = process.extractOne(key.lower(), list(DIMENSION_WORDS) + ["touch"], scorer=fuzz.ratio,
                                       score_cutoff=60)
            if close:
                f.suggestions.append(f"{'touch' if close[0] == 'touch_model' else close[0]}:{raw}")
            continue
        value = _filter_value(dim, raw, vocab, ctx, lang)
        if value is None:
            f.unknown.append(typed)
            f.suggestions.extend(f"{key}:{v}" for v in _close_values(dim, raw, vocab))
            continue
        _set_filter(f, dim, value)


def _filter_value(dim: str, raw: str, vocab: Vocabulary, ctx: Context, lang: str) -> object | None:
    """A typed value as the data writes it, or None when the data holds no such value."""
    if dim == "owner":
        ids = owner_ids(raw, ctx, lang)
        if raw.lower() in ME_WORDS or not vocab.data:
            return ids
        words = vocab.values.get("owner", {})
        # every identifier the owner is stored under (a Slack user ID and an e-mail may both be):
        # "owner:<@U123|alice@example.com>" matches the accounts of either
        known = tuple(dict.fromkeys(words[key(i)] for i in ids if key(i) in words))
        return known or None
    word = key(raw)
    words = vocab.values.get(dim, {})
    if word in words:
        return words[word]
    return None if vocab.data else raw


def _close_values(dim: str, raw: str, vocab: Vocabulary) -> list[str]:
    words = vocab.values.get(dim, {})
    if not words:
        return []
    found = process.extract(key(raw).lstrip("@"), list(words), scorer=fuzz.WRatio, limit=3, score_cutoff=60)
    out = []
    for word, _, _ in found:
        value = words[word]
        shown = value.split("@")[0] if dim == "owner" else value
        if shown not in out:
            out.append(shown)
    return out


def _set_filter(f: _Found, dim: str, value: object) -> None:
    f.filters.setdefault(dim, value)


def _filters(f: _Found) -> Filters:
    values = dict(f.filters)
    if "owner" in values and isinstance(values["owner"], str):
        values["owner"] = (values["owner"],)
    return Filters(**values) if values else NO_FILTERS


def _shapes(s: _Text, f: _Found, vocab: Vocabulary, ctx: Context, lang: str) -> dict:
    """Comparison, list, count, trend and breakdown words: what shape of answer is asked."""
    shape: dict = {}
    # the how-computed words before "how many" and the health command's "how is"
    m = s.search(_HOW)
    if m:
        s.take_match(m)
        f.words.append("how")
    elif (m := s.search(_HOW_AROUND)) is not None:  # "how is the health score computed": the name stays
        s.take(m.start("a"), m.end("a"))
        s.take(m.start("b"), m.end("b"))
        f.words.append("how")
    for name, regex in _OFFSETS:
        m = s.search(regex)
        if m:
            s.take_match(m)
            shape.update(intent="compare", offset=name)
            break
    m = s.search(_COMPARE)
    if m:
        s.take_match(m)
        shape.setdefault("intent", "compare")
    if f.explicit and f.command == "health":
        return shape
    m = s.search(_DROPPED_TO_RED)
    if m:
        s.take_match(m)
        f.words.append("dropped")
        shape["command"] = "health"
        return shape
    m = s.search(_HEALTH_DROP)
    if m:
        s.take_match(m)
        n = m["n"] or m["n2"]
        shape.update(intent="list", listing="health_drop", list_n=int(n) if n else None)
    m = s.search(_RENEWALS) if "listing" not in shape else None
    if m and m[0].strip():
        s.take_match(m)
        n = m["n"] or m["n2"] or m["n3"]
        shape.update(intent="list", listing="renewals", list_n=int(n) if n else None)
    probe = _without_metrics(s.rest, vocab)  # "顧客解約率" is a metric, not a list of customers
    count = _COUNT.search(probe)
    accounts = _account_word(probe, vocab)
    risk = _RISK.search(s.rest)
    colour = _BAND.search(probe)
    banded = risk or (colour and (colour["band"] or colour["risk"] or colour["ja"]))
    if count and not accounts and not _COUNTS_ACCOUNTS.fullmatch(count[0].strip()) and _has_metric(s, vocab):
        # "how many active users", "number of WAU": the question word of a metric that is itself a
        # count, not a count of accounts (which answered paying customers, the metric dropped)
        s.take_match(s.search(_COUNT))
        count = None
    if (people := s.search(_PEOPLE)) is not None and _has_metric(s, vocab):
        s.take_match(people)  # "アクティブユーザーは何人？": the metric's question word (alone it is not understood)
    # "how is Acme Company doing" is the health command's; "ヘルススコアが赤の顧客" a list of a band
    if count or (accounts and not f.explicit and (banded or not _mentions_health(s, vocab))):
        if count:
            s.take_match(count)
        cue = s.search(_LIST_CUE)
        if "listing" not in shape and risk:
            s.take_match(risk)  # taking a span blanks it in place: the matches above stay where they were
            shape.update(intent="list", listing="band", list_band=None)
        if "listing" not in shape and colour and (colour["band"] or colour["risk"] or colour["ja"]):
            s.take_match(colour)
            b = colour["band"] or _JA_BANDS.get(colour["ja"] or "", "red")
            # "at risk" is every band the model calls risky (red, then yellow), not red alone
            shape.update(intent="list", listing="band", list_band=None if colour["risk"] else b)
        if "listing" not in shape:
            for listing, regex in _MOVEMENTS:
                mv = s.search(regex)  # "解約した" holds the alias 解約: read before the metric names
                if mv:
                    s.take_match(mv)
                    shape.update(intent="list", listing=listing)
                    break
        if count:
            if shape.get("listing") == "churn":  # "how many customers churned": the churn answer carries the count
                shape.pop("intent")
                shape.pop("listing")
                shape["command"] = "churn"
                f.metrics.append("customer_churn_rate")
                _take_account_words(s, vocab)
            else:
                if shape.get("intent") != "compare":  # "how many customers enterprise vs smb" stays a comparison
                    shape["intent"] = "count"
                shape.setdefault("listing", "accounts")
                shape["counted"] = True  # how many accounts: by a dimension or over time, the paying customers
        elif "listing" in shape or (not _has_metric(s, vocab) and (
                cue or accounts or _OWNED_BY.search(s.rest) or _owner_possessive(s, vocab))):
            # a metric named without a list of accounts ("NRR for accounts owned by bob") is that metric
            # for those accounts, not the list
            shape.update(intent="list")
            shape.setdefault("listing", "accounts")
        if shape.get("intent") == "list":
            m = s.search(_TOP)
            if m:
                s.take_match(m)
                shape["list_top"] = int(m["n"] or m["n2"])
    if shape.get("intent") in ("list", "count"):  # "who renews next month": the renewals' list cue too
        _take_account_words(s, vocab)
        while (m := s.search(_LIST_CUE)) is not None:
            s.take_match(m)
    return shape


def _shapes_after_metrics(s: _Text, shape: dict, vocab: Vocabulary) -> None:
    """Trend and breakdown words, read once the metric names are out ("weekly active users" is WAU)."""
    for grain, regex in _GRAINS:  # "解約率の月次推移": the grain and the trend word both
        m = s.search(regex)
        if m:
            s.take_match(m)
            if shape.get("intent") != "compare":
                shape["intent"] = "trend"
            shape["grain"] = shape.get("grain") or grain or "month"
    if shape.get("intent") not in ("list", "count") and not _account_word(s.rest, vocab) and \
            (m := s.search(_DIRECTION)) is not None:
        s.take_match(m)
        if shape.get("intent") != "compare":
            shape["intent"] = "trend"
        shape["grain"] = shape.get("grain") or "month"
    # breakdowns
    for dim, words in DIMENSION_WORDS.items():
        alternatives = _words(*(re.escape(prep(w)).replace(r"\ ", r"\s+") for w in words))
        m = s.search(re.compile(_B + _BY_EN + r"\s+" + alternatives + _E)) or \
            s.search(re.compile(alternatives + _BY_JA))
        if m:
            s.take_match(m)
            shape["by"] = dim
            shape["by_words"] = m[0].strip()
            if shape.get("intent") not in ("trend", "compare", "list", "count"):
                shape["intent"] = "breakdown"
            break


def _owner_possessive(s: _Text, vocab: Vocabulary) -> bool:
    return any(key(m["who"]) in vocab.values.get("owner", {}) for m in _POSSESSIVE.finditer(s.rest))


# The metric whose words are the count of accounts' own ("paying customers"): read as a count, whose
# breakdowns, trends and comparisons ask for the metric (``_decide``).
_COUNTED = "paying_customers"


def _account_word(text: str, vocab: Vocabulary) -> re.Match[str] | None:
    """The first word for accounts (customers, 顧客, 企業 ...) in ``text`` that is not inside a dimension
    value's name: 中小企業 (smb) is a segment, not "small" and "companies"."""
    chars = list(text)
    for word, _, _ in vocab.value_words():
        if not _ACCOUNTS.search(word):
            continue
        for m in re.finditer(_word_regex(word), text):
            chars[m.start():m.end()] = "#" * (m.end() - m.start())
    return _ACCOUNTS.search("".join(chars))


def _take_account_words(s: _Text, vocab: Vocabulary) -> None:
    while (m := _account_word(s.rest, vocab)) is not None:
        s.take_match(m)


def _without_metrics(text: str, vocab: Vocabulary) -> str:
    chars = list(text)
    for alias in sorted((a for a, name in vocab.metrics.items() if name != _COUNTED), key=len, reverse=True):
        for m in re.finditer(_word_regex(alias), "".join(chars)):
            chars[m.start():m.end()] = " " * (m.end() - m.start())
    return "".join(chars)


def _has_metric(s: _Text, vocab: Vocabulary) -> bool:
    return any(re.search(_word_regex(w), s.rest) for w in vocab.metrics)


def _named_values(s: _Text, f: _Found, vocab: Vocabulary, shape: dict, lang: str) -> None:
    """Filter values named in words: "enterprise", "エンタープライズ", "APAC", "owned by alice", "alice's"."""
    for regex in (_OWNED_BY, _POSSESSIVE):
        m = s.search(regex)
        if m is None:
            continue
        who = m["who"]
        word = key(who).lstrip("@")
        owners = vocab.values.get("owner", {})
        if regex is _POSSESSIVE and word not in owners:  # "what's", "today's": not an owner
            continue
        s.take_match(m)
        if word in owners:
            _set_filter(f, "owner", (owners[word],))
        elif not vocab.data:
            _set_filter(f, "owner", (who.lstrip("@"),))
        else:
            f.unknown.append(who)
            f.suggestions.extend(_close_values("owner", who, vocab))
    seen: list[tuple[str, object]] = []
    where: dict[tuple[str, object], int] = {}  # where each value stands in the question
    for word, dim, value in vocab.value_words():
        regex = _word_regex(word)
        if dim == "touch_model" and word.isascii():  # "high touch", not "high churn"
            regex = _B + re.escape(word) + r"[\s-]+touch" + _E
        while (m := re.search(regex, s.rest)) is not None:
            end = m.end()
            if dim == "owner":  # "aliceさんの担当": the honorific goes with the name
                honorific = _HONORIFIC.match(s.rest, end)
                end = honorific.end() if honorific else end
            # "enterprise plan", "apac region": the dimension word after the value decides
            after = s.rest[end:]
            named = next((d for d, ws in DIMENSION_WORDS.items()
                          for w in ws if re.match(_AFTER_VALUE + _word_regex(w), after)), None)
            chosen_dim, chosen = dim, value
            if named and named != dim and word in vocab.values.get(named, {}):
                chosen_dim, chosen = named, vocab.values[named][word]
            s.take(m.start(), end)
            # "owner bob", "担当者がbob": the dimension word before the value is read with it
            before = re.search(_words(*(_word_regex(w) for w in DIMENSION_WORDS[chosen_dim])) + r"\s*(?:が|は|の|=)?\s*$",
                               s.rest[:m.start()])
            if before:
                s.take(before.start(), before.end())
            if named == chosen_dim:
                dm = re.match(_AFTER_VALUE + _words(*(_word_regex(w) for w in DIMENSION_WORDS[named])), s.rest[end:])
                if dm:
                    s.take(end + dm.start(), end + dm.end())
            item = (chosen_dim, (chosen,) if chosen_dim == "owner" else chosen)
            if item not in seen:
                seen.append(item)
                where[item] = m.start()
    seen.sort(key=lambda item: where[item])  # "中小企業とエンタープライズ": the sides in the order asked
    dims = [d for d, _ in seen]
    twice = next((d for d in dims if dims.count(d) > 1), None)
    if twice and shape.get("intent") == "compare":
        sides = [v for d, v in seen if d == twice]
        shape["compare_filters"] = tuple(Filters(**{twice: v}) for v in sides[:2])
        for extra in sides[2:]:
            f.unknown.append(str(extra))
        seen = [(d, v) for d, v in seen if d != twice]
    for dim, value in seen:
        if dim in f.filters and f.filters[dim] != value:
            f.unknown.append(str(value[0] if isinstance(value, tuple) else value))
            continue
        _set_filter(f, dim, value)


def _strip_ja_edges(word: str) -> str:
    changed = True
    while changed and word:
        changed = False
        for stop in STOP_JA:
            if word.startswith(stop):
                word, changed = word[len(stop):], True
                break
            if word.endswith(stop):
                word, changed = word[: -len(stop)], True
                break
    return word


def _leftover(s: _Text) -> list[str]:
    """The words nobody read, without stop words (as typed, in the question's normal form)."""
    out = []
    for m in re.finditer(r"\S+", s.rest):
        word = s.orig[m.start():m.end()].strip("?？!！。.,、;:「」\"'()（）")
        if not word:
            continue
        low = word.lower()
        if low in STOP_EN:
            continue
        if not word.isascii():
            word = _strip_ja_edges(word).strip("?？!！。.,、")
            if not word:
                continue
        out.append(word)
    return out


def _suggest(word: str, vocab: Vocabulary) -> list[str]:
    """Did you mean: the nearest command, metric or value word."""
    low = key(word)
    if low in NEAR_METRICS:
        return [NEAR_METRICS[low]]
    choices = vocab.suggestion_words(ascii_only=low.isascii())
    found = process.extractOne(low, choices, scorer=fuzz.ratio, score_cutoff=SUGGEST_SCORE)
    if not found:
        return []
    match = found[0]
    if match in vocab.values.get("owner", {}):
        return [match]
    return [match]


def _command_of(metrics: list[str]) -> str | None:
    return catalog.get(metrics[0]).command if metrics else None


def _decide(f: _Found, shape: dict, command_name: str | None, cleaned: str, ctx: Context, lang: str) -> Query:
    periods = [x.period for x in f.periods]
    period_texts = [x.text.strip() for x in f.periods]
    intent = shape.get("intent")
    offset = shape.get("offset")
    compare_filters = shape.get("compare_filters", ())
    if shape.get("counted") and shape.get("listing") == "accounts" and not f.metrics and \
            (shape.get("by") is not None or intent in ("trend", "compare") or len(periods) > 1 or compare_filters):
        # "how many customers by segment", "顧客数の推移", "customers Q2 vs Q3": the paying customers
        # (the count's own number) broken down, over time or compared
        f.metrics.append(_COUNTED)
        command_name = command_name or _command_of(f.metrics)
        shape["listing"] = None
        if intent == "count":
            intent = "breakdown" if shape.get("by") is not None else None
    if intent == "compare":
        if offset and len(periods) <= 1:
            base = periods[0] if periods else period_words.default_period(ctx.today)
            periods = [base, period_words.comparison_period(base, offset)]
            period_texts = (period_texts or [""]) + [""]
    elif len(periods) > 1 and intent in (None, "breakdown", "value"):
        intent = "compare"
    if len(periods) > 2:
        f.unknown.extend(period_texts[2:])
    by = shape.get("by")
    if by is not None and intent in ("compare", "list", "count"):
        # "accounts by segment": these answers have no breakdown; said, not dropped in silence
        f.unknown.append(shape.get("by_words", by))
        by = None
    if f.active_users and len(periods) == 1 and periods[0].grain in _ACTIVE_BY_GRAIN and "mau" in f.metrics:
        # "how many users were active last week", "昨日のアクティブユーザー": the users active in that week
        # (WAU) or on that day (DAU), not the 30 days ending it; said in the title, as always
        f.metrics = [_ACTIVE_BY_GRAIN[periods[0].grain] if m == "mau" else m for m in f.metrics]
    if f.part is not None and intent not in (None, "value", "command"):
        # "new MRR by segment": a breakdown, trend or comparison counts the whole metric (net new), not the
        # part named: said, not answered with the whole under the part's name
        f.unknown.append(f.part_words)
        f.part = None
    metrics = list(f.metrics)
    if not metrics and command_name:
        head = headline_metric(command_name)
        if head and intent not in ("list", "count"):
            metrics = [head]
    if intent is None:
        if command_name == "help":
            intent = "help"
        elif command_name is not None:
            intent = "command" if f.explicit else "value"
        else:
            intent = "help" if not cleaned else "value"
            if cleaned and not (f.unknown or periods or f.filters):  # nothing recognised at all
                f.unknown.append(cleaned)
    return Query(
        intent=intent,
        command=command_name,
        metrics=tuple(metrics),
        periods=tuple(periods),
        period_words=tuple(period_texts),
        filters=_filters(f),
        compare_filters=tuple(compare_filters),
        by=by,
        grain=shape.get("grain"),
        listing=shape.get("listing"),
        list_band=shape.get("list_band"),
        list_top=shape.get("list_top"),
        list_n=shape.get("list_n"),
        part=f.part,
        words=tuple(f.words),
        unknown=tuple(dict.fromkeys(f.unknown)),
        suggestions=tuple(dict.fromkeys(f.suggestions)),
        text=cleaned,
    )


def missing(query: Query, lang: str) -> tuple[str, ...]:
    """What an understood query still lacks to be answered, in words (``()`` when nothing):
    a metric ("Q2は？", "by segment", "前年比" alone) or the other side of a comparison
    ("vs Q2" alone). The router asks this after a thread's follow-up had its chance to fill it."""
    gaps: list[str] = []
    if query.intent in ("value", "breakdown", "trend", "compare") and not query.metrics and not query.command:
        gaps.append(t("query.which_metric", lang))
    if query.intent == "compare" and len(query.periods) < 2 and len(query.compare_filters) < 2:
        gaps.append(t("query.compare_what", lang))
    return tuple(gaps)
