"""/term: a CS term explained in the asker's language, tied to today's number from the team's data."""

from conftest import seed_two_plans

from commands.glossary import get_glossary
from metrics import catalog


def test_a_metric_term_carries_todays_value_from_the_database(engine, ask):
    seed_two_plans(engine)
    reply = ask("term churn rate")
    text = "\n".join(reply.lines)
    assert "50.0%" in text  # last month's customer churn on this data: 1 of 2
    assert "Oct 1 – Oct 31, 2026" in text
    assert reply.data["metric"] == "customer_churn_rate" and reply.data["value"] == 0.5


def test_the_formula_shown_is_the_metric_declarations_own(engine, ask):
    reply = ask("term churn rate")
    assert any(catalog.get("customer_churn_rate").text("en", "formula") in line for line in reply.lines)
    reply_ja = ask("/term チャーンレート")
    assert any(catalog.get("customer_churn_rate").text("ja", "formula") in line for line in reply_ja.lines)


def test_a_japanese_question_gets_a_japanese_answer_and_an_empty_database_still_gets_the_definition(engine, ask):
    reply = ask("NRRって何？")
    assert reply.language == "ja" and reply.kind == "answer"
    assert reply.title.startswith("NRR（売上維持率）")
    assert "value" not in reply.data  # nothing synced yet: no live number, but no error either


def test_what_is_questions_go_to_the_glossary_even_when_the_word_is_a_metric(engine, ask):
    assert ask("what is stickiness?").data["term"] == "stickiness"
    assert ask("<@U0BOT> ヘルススコアって何？").data["term"] == "health_score"


def test_related_terms_come_as_buttons_that_open_them(engine, ask):
    reply = ask("term NRR")
    keys = [b.value for b in reply.buttons if b.action_id == "csbot_term"]
    assert "term grr" in keys
    assert ask(keys[0]).kind == "answer"


def test_an_unknown_term_offers_the_closest_terms(engine, ask):
    reply = ask("term stickyness")
    assert reply.kind == "answer" and reply.data["term"] == "stickiness"  # a small typo is forgiven
    reply = ask("term banana")
    assert reply.kind == "choices" and "banana" in reply.title


def test_term_alone_lists_the_terms_by_category(engine, ask):
    reply = ask("term")
    assert any(line.startswith("*Touch models*") for line in reply.lines)


def test_every_declared_metric_has_a_glossary_term_and_every_metric_term_is_declared():
    assert get_glossary().check_metric_coverage(catalog.names()) == []


def test_a_term_that_shows_todays_revenue_figure_is_private_like_the_answer(engine, ask, settings):
    from commands.privacy import carries_revenue, may_be_public

    seed_two_plans(engine)
    for question in ("term MRR", "what is MRR?", "MRRって何？"):
        reply = ask(question)
        assert reply.data["metric"] == "mrr" and reply.metrics == ("mrr",), question
        assert carries_revenue(reply) and not may_be_public(reply, settings, "C0GENERAL"), question
        assert may_be_public(reply, settings, "D0ASKER", is_dm=True)
    nps = ask("term NPS")
    assert nps.metrics == ("nps",) and not carries_revenue(nps)


def test_a_metric_term_points_to_the_command_that_shows_it(engine, ask):
    seed_two_plans(engine)
    assert "`/ltv`" in ask("term upsell").lines[-1]  # upsell is shown by ltv, not nrr
    assert "`/churn`" in ask("term churn rate").lines[-1]
