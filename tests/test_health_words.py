"""The words of /health follow the sign of each component's effect on the score (EN and JA):
a component that lowered the score is a drag with negative points, one that raised it a lift
with positive points; "steady" only for a small change and never as the reason a score is low.
The at-risk list is exactly the red and yellow accounts the title counts; an unknown name says
no account matches it (with "did you mean" when a name is close), not "no accounts yet"."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import pytest
from test_health import MODEL_TEXT, seed

from commands.health import DRAG, FACT, LIFT, account_reply, component_fact, effect_words
from metrics import health as hm

DAY = date(2026, 12, 1)
C = hm.ComponentScore


def _usage(score, change, stickiness=0.3, mau=10):
    return C(score, stickiness, {"stickiness": stickiness, "mau": mau, "trend_days": 30, "change": change})


# (component, its score and numbers, the way its words point, EN words, JA words)
CASES = [
    ("usage", _usage(50, -0.17), DRAG, "usage down 17% in 30 days", "利用が30日間で17%減少"),
    ("usage", _usage(95, 0.25), LIFT, "usage up 25% in 30 days", "利用が30日間で25%増加"),
    ("usage", _usage(80, 0.02), FACT, "usage steady over 30 days (stickiness 30.0%)",
     "利用は30日間ほぼ横ばい（スティッキネス 30.0%）"),
    # a small change on a low score is not "steady": the low stickiness is the reason
    ("usage", _usage(30, 0.01, stickiness=0.1), DRAG, "low stickiness (10.0%): users come back on few days",
     "スティッキネスが低い（10.0%）: 利用する日が少ない"),
    ("usage", _usage(0, None, stickiness=0.0, mau=0), DRAG, "no use in the last 30 days", "直近30日間の利用なし"),
    ("seats", C(30, 0.2, {"active_users": 2, "seats": 10, "utilisation": 0.2}), DRAG,
     "2 of 10 seats used (20.0%)", "シート 10席中 2席を利用（20.0%）"),
    ("seats", C(90, 0.8, {"active_users": 8, "seats": 10, "utilisation": 0.8}), FACT,
     "8 of 10 seats used (80.0%)", "シート 10席中 8席を利用（80.0%）"),
    ("last_activity", C(100, 1.0, {"days": 1, "last_active": date(2026, 11, 30)}), LIFT,
     "active yesterday", "昨日も利用あり"),
    ("last_activity", C(20, 21.0, {"days": 21, "last_active": date(2026, 11, 10)}), DRAG,
     "last active 21 days ago (Nov 10)", "最終利用は21日前（11月10日）"),
    ("nps", C(20, -50.0, {"nps": -50, "respondents": 2, "last_at": datetime(2026, 11, 3),
                          "last_detractor_at": datetime(2026, 11, 3)}), DRAG,
     "detractor NPS on Nov 3", "11月3日に批判者のNPS回答"),
    ("nps", C(90, 60.0, {"nps": 60, "respondents": 5, "last_at": datetime(2026, 11, 3),
                         "last_detractor_at": None}), LIFT, "NPS +60 from 5 respondent(s)", "NPS +60・回答5人"),
    ("support", C(40, 1.0, {"open": 1, "urgent": 1, "high": 0}), DRAG, "1 urgent ticket open", "緊急チケット 1件が未解決"),
    ("support", C(100, 0.0, {"open": 0, "urgent": 0, "high": 0}), LIFT, "no open tickets", "未解決チケットなし"),
    ("revenue", C(40, -0.3, {"change": -0.3, "days": 90}), DRAG, "MRR down 30% in 90 days", "MRRが90日間で30%減少"),
    ("revenue", C(100, 0.2, {"change": 0.2, "days": 90}), LIFT, "MRR up 20% in 90 days", "MRRが90日間で20%増加"),
    ("onboarding", C(50, -0.5, {"done": 1, "required": 4}), DRAG, "onboarding 1 of 4 milestones done",
     "オンボーディング 4項目中 1項目完了"),
    ("onboarding", C(100, 0.0, {"done": 4, "required": 4}), LIFT, "onboarding complete", "オンボーディング完了"),
]


def test_every_component_has_a_drag_and_a_lift_case():
    tones = {(name, tone) for name, _, tone, _, _ in CASES}
    for name in hm.COMPONENTS:
        assert (name, DRAG) in tones, name
        assert (name, LIFT) in tones or name == "seats", name  # seats used is a fact, never a lift


@pytest.mark.parametrize("name,comp,tone,en,ja", CASES)
def test_component_words_and_their_direction(name, comp, tone, en, ja):
    assert component_fact(name, comp, "en") == (en, tone)
    assert component_fact(name, comp, "ja") == (ja, tone)
    assert "steady" not in en or comp.score >= 60


@pytest.mark.parametrize("name,comp,tone,en,ja", CASES)
def test_the_words_of_an_effect_never_point_against_its_points(name, comp, tone, en, ja):
    label_en = {"usage": "usage", "seats": "seat utilisation", "last_activity": "last activity", "nps": "NPS",
                "support": "support", "revenue": "revenue trend", "onboarding": "onboarding"}[name]
    for points, sign in ((-5.0, DRAG), (5.0, LIFT)):
        before = comp.score - points * 2  # the component moved twice the points (weight 0.5)
        words = effect_words(name, comp, points, "en", before)
        head = f"{label_en} {points:+.0f} pts ({before:.0f} → {comp.score:.0f} of 100"
        agrees = tone in (sign, FACT)
        assert words == head + (f"; {en})" if agrees else ")"), words
        words_ja = effect_words(name, comp, points, "ja", before)
        assert (ja in words_ja) == agrees and f"{points:+.0f}点" in words_ja


def test_usage_down_that_raised_the_score_is_not_called_down():
    # the example: "usage down 17% in 30 days (+5 pts)"
    comp = _usage(50, -0.17)
    assert effect_words("usage", comp, 5.0, "en", 40) == "usage +5 pts (40 → 50 of 100)"
    assert effect_words("usage", comp, 5.0, "ja", 40) == "利用状況 +5点（40 → 50/100）"
    assert effect_words("usage", comp, -10.0, "en", 70) == "usage -10 pts (70 → 50 of 100; usage down 17% in 30 days)"
    # without an earlier score the effect is the score itself
    assert effect_words("usage", comp, 5.0, "en") == "usage +5 pts (scores 50 of 100)"


def _facts() -> hm.AccountFacts:
    return hm.AccountFacts(
        account_id="X", name="Example KK", plan="pro", segment=None, owner=None, seats=10, renewal_date=None,
        mrr=100_000.0, active_users_30=8, last_active=date(2026, 11, 30), nps_score=3,
        nps_at=datetime(2026, 11, 3), csat_score=None, csat_at=None, csat_mean_90=None, csat_answers_90=0,
        milestones_done=(), milestones_required=(), onboarding_done_at=None, first_paid=date(2025, 1, 1),
        churned_on=None)


def _view(before: dict[str, float]) -> hm.AccountView:
    comps = {
        "usage": _usage(50, -0.17),
        "support": C(100, 0.0, {"open": 0, "urgent": 0, "high": 0}),
        "nps": C(40, -50.0, {"nps": -50, "respondents": 2, "last_at": datetime(2026, 11, 3),
                             "last_detractor_at": datetime(2026, 11, 3)}),
    }
    weights = {"usage": 0.5, "support": 0.25, "nps": 0.25}
    score = sum(comps[k].score * w for k, w in weights.items())  # 25 + 25 + 10 = 60
    now = hm.AccountHealth("X", DAY, score, "yellow", comps, (), weights, False, 100_000.0, True)
    then = sum(before[k] * w for k, w in weights.items())
    snap = hm.SnapshotScore("X", date(2026, 11, 1), then, "yellow", before, False)
    return hm.AccountView(now=now, before=snap, before_day=date(2026, 11, 1), facts=_facts())


@pytest.mark.parametrize("lang,lifted,holding", [
    ("en", "*Lifted it in 30 days:* usage +5 pts (40 → 50 of 100); support +4 pts (84 → 100 of 100; no open tickets)",
     "*Holding it down:* NPS -15 pts (detractor NPS on Nov 3)"),
    ("ja", "*30日間で押し上げた要因:* 利用状況 +5点（40 → 50/100）、サポート +4点（84 → 100/100、未解決チケットなし）",
     "*スコアを下げている要因:* NPS -15点（11月3日に批判者のNPS回答）"),
])
def test_an_account_whose_score_rose_is_described_by_its_lifts(lang, lifted, holding):
    # usage 40 -> 50 (x0.5 = +5), support 84 -> 100 (x0.25 = +4), NPS unchanged at 40 (x0.25: 15 short of full)
    reply = account_reply(_view({"usage": 40, "support": 84, "nps": 40}), lang, "JPY", hm.model_for(None))
    assert list(reply.lines) == [lifted, holding]


@pytest.mark.parametrize("lang,pulled,lifted", [
    ("en", "*Pulled it down in 30 days:* usage -10 pts (70 → 50 of 100; usage down 17% in 30 days)",
     "*Lifted it in 30 days:* support +4 pts (84 → 100 of 100; no open tickets)"),
    ("ja", "*30日間で押し下げた要因:* 利用状況 -10点（70 → 50/100、利用が30日間で17%減少）",
     "*30日間で押し上げた要因:* サポート +4点（84 → 100/100、未解決チケットなし）"),
])
def test_drags_and_lifts_are_said_apart_with_their_signs(lang, pulled, lifted):
    reply = account_reply(_view({"usage": 70, "support": 84, "nps": 40}), lang, "JPY", hm.model_for(None))
    assert reply.lines[:2] == (pulled, lifted)


@pytest.mark.parametrize("lang,title", [("en", "Example KK: health component scores"),
                                        ("ja", "Example KK のヘルススコア構成要素")])
def test_the_account_chart_names_the_account(lang, title):
    reply = account_reply(_view({"usage": 40, "support": 84, "nps": 40}), lang, "JPY", hm.model_for(None))
    assert reply.chart.title == title


# --------------------------------------------------------------------------- through /health


@pytest.fixture
def settings(settings, tmp_path):
    path = tmp_path / "health_model.toml"
    path.write_text(MODEL_TEXT, encoding="utf-8")
    return replace(settings, health_model=path)


@pytest.fixture
def seeded(engine):
    seed(engine)
    return engine


@pytest.mark.parametrize("lang,question,title", [
    ("en", "/health", "At risk: 1 red, 1 yellow (red first, lowest score first)"),
    ("ja", "ヘルス", "要注意の顧客: 赤 1社、黄 1社（赤から、スコアの低い順）"),
])
def test_the_at_risk_list_is_the_red_then_the_yellow_accounts(seeded, ask, lang, question, title):
    reply = ask(question)
    assert reply.table.title == title
    bands = [row[1].split()[-1] for row in reply.table.rows]
    assert bands == ["🔴", "🟡"]  # red first, then yellow; the green account is not "at risk"
    assert reply.table.total_rows == reply.data["counts"]["red"] + reply.data["counts"]["yellow"]
    assert reply.data["at_risk"] == ["B", "A"]


@pytest.mark.parametrize("lang,question,title,hint", [
    ("en", "/health umbrella", "No account matches “umbrella” (looked through 3 accounts).", "Type part of"),
    ("ja", "アンブレラの状態は？", "「アンブレラ」に一致する顧客はありません（3社を検索）。", "顧客名の一部"),
])
def test_an_unknown_name_says_no_account_matches_not_no_accounts(seeded, ask, lang, question, title, hint):
    reply = ask(question)
    assert reply.kind == "error" and reply.title == title
    assert reply.lines[0].startswith(hint)


@pytest.mark.parametrize("question,title", [
    ("/health glbx", "No account called “glbx”. Did you mean: Globex?"),
    ("glbxの状態は？", "「glbx」という顧客は見つかりません。もしかして: Globex"),
])
def test_a_close_name_is_offered_as_did_you_mean(seeded, ask, question, title):
    reply = ask(question)
    assert reply.kind == "choices" and reply.title == title
    assert [b.value for b in reply.buttons] == ["health B"]
