"""Questions as CSMs type them, each mapped to the ``Query`` it must be understood as (on the demo
company, today 2026-11-22), and every answered one checked against ``compute_metric`` for the same
metric, period and filters.

A row is ``(question, expected)``; ``expected`` is written in a few words:
``INTENT [c=command] [m=metric,...] [p=period,...] [f=key:value,...] [cf=key:value|key:value]
[by=dim] [grain=g] [list=listing] [band=b] [n=N] [acct=name_with_underscores] [term=word] [unk=word|two_words]
[sug=word|word] [top=N]`` (``band=-``: every band the model calls risky)
or ``err=future`` / ``err=period`` for a question refused with a short error.
A period is ``2026-10`` (a month), ``2026-Q3``, ``2025`` (a year) or ``2026-11-01~2026-11-22`` (days,
inclusive); a period that ends after today is "to date". Fields not written must be empty: no
filter, no period, nothing unknown, no dimension, grain or listing.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest

from commands.context import Context
from commands.language import clean_text, detect_language
from commands.periods import PeriodError, PeriodNotStarted, default_period
from commands.router import dispatch
from commands.understand import parse_query
from metrics.compute import compute_metric
from metrics.db import Database
from metrics.filters import Filters
from metrics.settings import Settings

NOW = datetime(2026, 11, 22, 0, 30, tzinfo=timezone.utc)
TODAY = date(2026, 11, 22)

# ---- written by hand: the questions, and the shapes of question in both languages ----------
HAND = [
    # the failures: now read, or refused honestly
    ("Q3のGRR", "value c=grr m=grr p=2026-Q3"),
    ("2026-09の解約率", "value c=churn m=customer_churn_rate p=2026-09"),
    ("last-quarterの解約率", "value c=churn m=customer_churn_rate p=2026-Q3"),
    ("先々月の解約率", "value c=churn m=customer_churn_rate p=2026-09"),
    ("第3四半期のNRR", "value c=nrr m=nrr p=2026-Q3"),
    ("上期の解約率", "value c=churn m=customer_churn_rate p=2026-01-01~2026-06-30"),
    ("来月の解約率", "err=future"),
    ("churn 2026-12", "err=future"),
    ("nrr 2027", "err=future"),
    ("next month churn", "err=future"),
    ("来期のNRRは？", "err=future"),
    ("churn segment:enterpise", "command c=churn m=customer_churn_rate unk=segment:enterpise sug=segment:enterprise"),
    ("churn owner:zed", "command c=churn m=customer_churn_rate unk=owner:zed"),
    ("エンタープライズの解約率", "value c=churn m=customer_churn_rate f=segment:enterprise"),
    ("compare Q2 and Q3 nrr", "compare c=nrr m=nrr p=2026-Q2,2026-Q3"),
    ("mrr by segment", "breakdown c=mrr m=mrr by=segment"),
    ("セグメント別のMRR", "breakdown c=mrr m=mrr by=segment"),
    ("担当者別の解約率", "breakdown c=churn m=customer_churn_rate by=owner"),
    ("how many customers churned last month?", "value c=churn m=customer_churn_rate p=2026-10"),
    ("解約率を教えて", "value c=churn m=customer_churn_rate"),
    ("先月の解約率を教えてください", "value c=churn m=customer_churn_rate p=2026-10"),
    ("先週ヘルススコアが下がった顧客", "list p=2026-11-09~2026-11-15 list=health_drop"),
    ("top accounts at risk", "list list=band band=-"),
    # at risk and a band, said with the health command's or a metric's words
    ("ヘルススコアが赤の顧客一覧", "list list=band band=red"),
    ("accounts with a red health score", "list list=band band=red"),
    ("ヘルススコアが低い顧客", "list list=band band=-"),
    ("解約リスクのある顧客", "list list=band band=-"),
    ("解約しそうな顧客", "list list=band band=-"),
    ("リスク顧客", "list list=band band=-"),
    ("top 10 accounts at risk", "list list=band band=- top=10"),
    ("リスク顧客トップ5", "list list=band band=- top=5"),
    ("解約した顧客 上位3社", "list list=churn top=3"),
    ("top 3 accounts", "list list=accounts top=3"),
    ("accounts likely to churn", "list list=band band=-"),
    ("unhealthy accounts", "list list=band band=-"),
    ("low health accounts", "list list=band band=-"),
    ("エンタープライズの解約リスクが高い顧客", "list f=segment:enterprise list=band band=-"),
    # "how many" before a metric that is a count asks for the metric, not for a count of accounts
    ("how many active users", "value c=usage m=mau"),
    ("SMBのアクティブユーザー数", "value c=usage m=mau f=segment:smb"),
    ("ARR run rate", "value c=mrr m=arr"),
    ("サマリー", "value c=kpi"),
    ("先月のまとめ", "value c=kpi p=2026-10"),
    ("overview last month", "value c=kpi p=2026-10"),
    ("gross churn last month", "value c=churn m=revenue_churn_rate p=2026-10"),
    ("net churn last month", "value c=nrr m=net_mrr_churn_rate p=2026-10"),
    ("ARPU last month", "value p=2026-10 unk=ARPU sug=ARPA"),
    ("customer count", "count list=accounts"),
    ("how many paying customers in smb", "count list=accounts f=segment:smb"),
    ("エンタープライズの有料顧客数", "count list=accounts f=segment:enterprise"),
    ("契約社数", "count list=accounts"),
    ("日本の顧客のMRR", "value c=mrr m=mrr f=region:japan"),
    ("北米のNRR", "value c=nrr m=nrr f=region:na"),
    ("aliceさんの担当顧客の解約率", "value c=churn m=customer_churn_rate f=owner:alice@example.com"),
    ("bob様のMRR", "value c=mrr m=mrr f=owner:bob@example.com"),
    ("how do you calculate churn", "value c=churn m=customer_churn_rate"),
    ("how is NRR calculated", "value c=nrr m=nrr"),
    ("churn per account manager", "breakdown c=churn m=customer_churn_rate by=owner"),
    ("担当CSM別の解約率", "breakdown c=churn m=customer_churn_rate by=owner"),
    ("月間アクティブユーザー数の推移", "trend c=usage m=mau grain=month"),
    ("show me expansion MRR last month", "value c=mrr m=mrr_movements p=2026-10 part=expansion"),
    ("先月の拡大MRR", "value c=mrr m=mrr_movements p=2026-10 part=expansion"),
    # the one movement named leads the answer; a breakdown, trend or comparison of it is not answered
    ("new MRR last month", "value c=mrr m=mrr_movements p=2026-10 part=new"),
    ("先月の新規MRRはいくら？", "value c=mrr m=mrr_movements p=2026-10 part=new"),
    ("解約MRR 先月", "value c=mrr m=mrr_movements p=2026-10 part=churn"),
    ("mrr movements last month", "value c=mrr m=mrr_movements p=2026-10"),
    ("new mrr by segment", "breakdown c=mrr m=mrr_movements by=segment unk=new_mrr"),
    ("新規MRRの推移", "trend c=mrr m=mrr_movements grain=month unk=新規mrr"),
    ("number of weekly active users last week", "value c=usage m=wau p=2026-11-09~2026-11-15"),
    ("list accounts in red", "list list=band band=red"),
    ("renewals due next 30 days", "list list=renewals n=30"),
    ("accounts owned by alice", "list list=accounts f=owner:alice@example.com"),
    ("how many customers do we have", "count list=accounts"),
    ("chrun last month", "value p=2026-10 unk=chrun sug=churn"),
    ("リスクの高い顧客", "list list=band band=-"),
    ("更新が近い顧客", "list list=renewals"),
    ("顧客数は？", "count list=accounts"),
    ("前年比", "compare p=2026-10,2025-10"),
    ("10月の売上", "value p=2026-10 unk=売上 sug=MRR"),
    # values, English
    ("churn last-month", "command c=churn m=customer_churn_rate p=2026-10"),
    ("churn last-month segment:smb", "command c=churn m=customer_churn_rate p=2026-10 f=segment:smb"),
    ("churn 2026-10 how", "command c=churn m=customer_churn_rate p=2026-10"),
    ("churn last-month accounts", "command c=churn m=customer_churn_rate p=2026-10"),
    ("churn 2026-10-01..2026-10-31 segment:smb how", "command c=churn m=customer_churn_rate p=2026-10 f=segment:smb"),
    ("what was NRR in Q3?", "value c=nrr m=nrr p=2026-Q3"),
    ("what is our churn rate this month?", "value c=churn m=customer_churn_rate p=2026-11-01~2026-11-22"),
    ("enterprise churn last month", "value c=churn m=customer_churn_rate p=2026-10 f=segment:enterprise"),
    ("smb nrr for 2026-Q3", "value c=nrr m=nrr p=2026-Q3 f=segment:smb"),
    ("mrr for the apac region last month", "command c=mrr m=mrr p=2026-10 f=region:apac"),
    ("high touch churn rate in Q2", "value c=churn m=customer_churn_rate p=2026-Q2 f=touch_model:high"),
    ("pro plan mrr last month", "value c=mrr m=mrr p=2026-10 f=plan:pro"),
    ("enterprise plan churn last quarter", "value c=churn m=customer_churn_rate p=2026-Q3 f=plan:enterprise"),
    ("nrr last-month owner:@alice", "command c=nrr m=nrr p=2026-10 f=owner:alice@example.com"),
    ("churn owner:<@U0ALICE|alice> last month", "command c=churn m=customer_churn_rate p=2026-10 f=owner:alice@example.com"),
    ("churn --filter segment=smb", "command c=churn m=customer_churn_rate f=segment:smb"),
    ("churn plan:pro region:japan 2026-09", "command c=churn m=customer_churn_rate p=2026-09 f=plan:pro,region:japan"),
    ("churn touch:tech", "command c=churn m=customer_churn_rate f=touch_model:tech"),
    ("what was the revenue churn rate in september?", "value c=churn m=revenue_churn_rate p=2026-09"),
    ("show me arr for last quarter", "value c=mrr m=arr p=2026-Q3"),
    ("nps this quarter", "command c=nps m=nps p=2026-10-01~2026-11-22"),
    ("csat last month please", "command c=csat m=csat p=2026-10"),
    ("mau last 30 days", "value c=usage m=mau p=2026-10-23~2026-11-21"),
    ("daily active users yesterday", "value c=usage m=dau p=2026-11-21~2026-11-21"),
    ("grr ytd", "command c=grr m=grr p=2026-01-01~2026-11-22"),
    ("ltv last year", "command c=ltv m=ltv p=2025"),
    ("kpi last-month", "command c=kpi p=2026-10"),
    ("kpi", "command c=kpi"),
    ("what's the quick ratio for 2026-08?", "value c=mrr m=quick_ratio p=2026-08"),
    ("net revenue retention and gross revenue retention last quarter", "value c=nrr m=nrr,grr p=2026-Q3"),
    ("onboarding completion rate in 2026-07", "value c=onboarding m=onboarding_completion_rate p=2026-07"),
    ("time to value last quarter", "value c=onboarding m=ttv p=2026-Q3"),
    ("stickiness this month", "value c=usage m=stickiness p=2026-11-01~2026-11-22"),
    ("churn for the whole company last month", "command c=churn m=customer_churn_rate p=2026-10"),
    ("churn in october", "command c=churn m=customer_churn_rate p=2026-10"),
    ("churn in oct 2025", "command c=churn m=customer_churn_rate p=2025-10"),
    ("churn 2026-q1", "command c=churn m=customer_churn_rate p=2026-Q1"),
    ("churn h1", "command c=churn m=customer_churn_rate p=2026-01-01~2026-06-30"),
    ("churn last 3 months", "command c=churn m=customer_churn_rate p=2026-08-01~2026-10-31"),
    ("churn from 2026-03 to 2026-06", "command c=churn m=customer_churn_rate p=2026-03-01~2026-06-30"),
    ("nrr between q1 and q2", "command c=nrr m=nrr p=2026-01-01~2026-06-30"),
    ("churn since march", "command c=churn m=customer_churn_rate p=2026-03-01~2026-11-22"),
    ("churn excluding enterprise", "command c=churn m=customer_churn_rate f=segment:enterprise unk=excluding"),
    # breakdowns, trends, comparisons, lists, counts: English
    ("churn by segment", "breakdown c=churn m=customer_churn_rate by=segment"),
    ("what was nrr by plan last quarter?", "breakdown c=nrr m=nrr p=2026-Q3 by=plan"),
    ("customer churn per region", "breakdown c=churn m=customer_churn_rate by=region"),
    ("net revenue retention by owner for 2026-09", "breakdown c=nrr m=nrr p=2026-09 by=owner"),
    ("csat by touch model", "breakdown c=csat m=csat by=touch_model"),
    ("enterprise mrr by region", "breakdown c=mrr m=mrr f=segment:enterprise by=region"),
    ("monthly churn for 2026", "trend c=churn m=customer_churn_rate p=2026-01-01~2026-11-22 grain=month"),
    ("nrr trend", "trend c=nrr m=nrr grain=month"),
    ("quarterly mrr", "trend c=mrr m=mrr grain=quarter"),
    ("weekly active users by week", "trend c=usage m=wau grain=week"),
    ("mrr over time", "trend c=mrr m=mrr grain=month"),
    ("churn rate by month in 2025", "trend c=churn m=customer_churn_rate p=2025 grain=month"),
    # a trend by a dimension: a line per value; a breakdown inside a comparison or a list is said, not dropped
    ("NPSの推移 セグメント別", "trend c=nps m=nps by=segment grain=month"),
    ("NRR by month by segment", "trend c=nrr m=nrr by=segment grain=month"),
    ("accounts by segment", "list list=accounts unk=by_segment"),
    # a metric asked for some accounts is that metric with their filter, not the list of them
    ("NRR for accounts owned by bob", "command c=nrr m=nrr f=owner:bob@example.com"),
    ("churn for bob's accounts", "command c=churn m=customer_churn_rate f=owner:bob@example.com"),
    ("show me NRR for enterprise accounts", "value c=nrr m=nrr f=segment:enterprise"),
    ("which customers have the lowest health", "list list=band band=-"),
    ("how many customers enterprise vs smb", "compare c=mrr m=paying_customers cf=segment:enterprise|segment:smb"),
    # "active users" without its window is the period's: a week's (WAU), a day's (DAU), else MAU
    ("how many users were active last week", "value c=usage m=wau p=2026-11-09~2026-11-15"),
    ("昨日のアクティブユーザー数", "value c=usage m=dau p=2026-11-21~2026-11-21"),
    ("active users last month", "value c=usage m=mau p=2026-10"),
    ("monthly active users last week", "value c=usage m=mau p=2026-11-09~2026-11-15"),
    ("アクティブユーザーは何人？", "value c=usage m=mau"),
    ("何人が使っている？", "value unk=何人が使っている"),
    # how many accounts, broken down, over time or compared: the paying customers (the count's own number)
    ("how many accounts by segment", "breakdown c=mrr m=paying_customers by=segment"),
    ("セグメント別の顧客数", "breakdown c=mrr m=paying_customers by=segment"),
    ("number of customers by region last quarter", "breakdown c=mrr m=paying_customers p=2026-Q3 by=region"),
    ("顧客数の推移", "trend c=mrr m=paying_customers grain=month"),
    # 企業 inside the segment 中小企業 is the segment's name, not the word for accounts
    ("中小企業の顧客数の推移", "trend c=mrr m=paying_customers grain=month f=segment:smb"),
    ("中小企業の顧客数は？", "count list=accounts f=segment:smb"),
    ("中小企業の顧客一覧", "list list=accounts f=segment:smb"),
    ("how many customers in Q2 vs Q3", "compare c=mrr m=paying_customers p=2026-Q2,2026-Q3"),
    ("paying customer count last month", "count list=accounts p=2026-10"),
    # which way it moves: a trend's first line says it
    ("is churn going up?", "trend c=churn m=customer_churn_rate grain=month"),
    ("is MRR growing", "trend c=mrr m=mrr grain=month"),
    ("解約率は上がってる？", "trend c=churn m=customer_churn_rate grain=month"),
    ("エンタープライズの解約率は上がっていますか", "trend c=churn m=customer_churn_rate f=segment:enterprise grain=month"),
    ("NRRは改善してる？", "trend c=nrr m=nrr grain=month"),
    ("accounts with usage going down", "list list=accounts unk=down"),  # not a trend that drops the accounts
    ("MRRが増えている顧客", "command c=mrr m=mrr unk=増えている"),
    # the grain said with で or 単位; a period word ending in it stays a period
    ("チャーン率の推移 四半期で", "trend c=churn m=customer_churn_rate grain=quarter"),
    ("MRRの推移を月で", "trend c=mrr m=mrr grain=month"),
    ("MAUを週単位で", "trend c=usage m=mau grain=week"),
    ("今四半期でNRRは？", "value c=nrr m=nrr p=2026-10-01~2026-11-22"),
    ("3月でNRR", "value c=nrr m=nrr p=2026-03"),
    ("過去3か月でチャーン率", "value c=churn m=customer_churn_rate p=2026-08-01~2026-10-31"),
    # the labels csbot prints, typed back
    ("先月のチャーン率", "value c=churn m=customer_churn_rate p=2026-10"),
    ("先月のカスタマーチャーンレート", "value c=churn m=customer_churn_rate p=2026-10"),
    ("先月のレベニューチャーンレート", "value c=churn m=revenue_churn_rate p=2026-10"),
    ("年換算チャーンレート", "value c=retention m=annualized_churn_rate"),
    ("NRR (net revenue retention) last month", "value c=nrr m=nrr p=2026-10"),
    ("nrr q2 vs q3", "compare c=nrr m=nrr p=2026-Q2,2026-Q3"),
    ("churn this month versus last month", "compare c=churn m=customer_churn_rate p=2026-11-01~2026-11-22,2026-10"),
    ("enterprise vs smb churn", "compare c=churn m=customer_churn_rate cf=segment:enterprise|segment:smb"),
    ("compare mrr for apac and emea", "compare c=mrr m=mrr cf=region:apac|region:emea"),
    ("churn yoy", "compare c=churn m=customer_churn_rate p=2026-10,2025-10"),
    ("nrr month over month", "compare c=nrr m=nrr p=2026-10,2026-09"),
    ("which accounts churned last month?", "list p=2026-10 list=churn"),
    ("accounts that churned in 2026-09", "list p=2026-09 list=churn"),
    ("new customers last month", "list p=2026-10 list=new"),
    ("which customers expanded last quarter", "list p=2026-Q3 list=expansion"),
    ("accounts that contracted in october", "list p=2026-10 list=contraction"),
    ("list accounts in yellow", "list list=band band=yellow"),
    ("green accounts", "list list=band band=green"),
    ("upcoming renewals", "list list=renewals"),
    ("renewals in the next 60 days", "list list=renewals n=60"),
    # what is due looks ahead: a period not started is read, whole (churn next month is still refused)
    ("renewals next month", "list list=renewals p=2026-12-01~2026-12-31"),
    ("来月の更新予定", "list list=renewals p=2026-12-01~2026-12-31"),
    ("renewals next quarter", "list list=renewals p=2027-01-01~2027-03-31"),
    ("renewals this month", "list list=renewals p=2026-11-01~2026-11-22"),  # the list widens it to the month
    ("churn next month", "err=future"),
    # a month or quarter named without a year is the next one for what is due (asked on 2026-11-22)
    ("renewals in January", "list list=renewals p=2027-01-01~2027-01-31"),
    ("1月の更新予定", "list list=renewals p=2027-01-01~2027-01-31"),
    ("2月に更新する顧客", "list list=renewals p=2027-02-01~2027-02-28"),
    ("how many accounts renew in October", "count list=renewals p=2027-10-01~2027-10-31"),
    ("renewals in November", "list list=renewals p=2026-11-01~2026-11-30"),
    ("renewals in Q1", "list list=renewals p=2027-01-01~2027-03-31"),
    ("who renews next month", "list list=renewals p=2026-12-01~2026-12-31"),
    ("churn in January", "command c=churn m=customer_churn_rate p=2026-01"),
    ("accounts whose health dropped by 15 points", "list list=health_drop n=15"),
    ("accounts owned by bob", "list list=accounts f=owner:bob@example.com"),
    ("dan's accounts", "list list=accounts f=owner:dan@example.com"),
    ("my accounts at risk", "list list=band band=- f=owner:U0ALICE"),
    ("what was my churn rate last month?", "value c=churn m=customer_churn_rate p=2026-10 f=owner:U0ALICE"),
    ("enterprise accounts at risk", "list list=band band=- f=segment:enterprise"),
    ("how many enterprise customers", "count list=accounts f=segment:enterprise"),
    ("number of customers in apac", "count list=accounts f=region:apac"),
    ("how many new customers last month", "count p=2026-10 list=new"),
    ("accounts owned by zed", "list list=accounts unk=zed"),
    ("how did mrr change last month", "value c=mrr m=mrr p=2026-10"),
    ("churn for owner bob", "command c=churn m=customer_churn_rate f=owner:bob@example.com"),
    ("difference between enterprise and smb churn", "compare c=churn m=customer_churn_rate cf=segment:enterprise|segment:smb"),
    # definitions, help, commands of their own
    ("what is NRR", "define c=term term=NRR"),
    ("what is stickiness?", "define c=term term=stickiness"),
    ("define ltv", "define c=term term=ltv"),
    ("help", "help c=help"),
    ("what can you do", "help c=help"),
    ("sync", "command c=sync"),
    ("digest subscribe #cs-team 09:00", "command c=digest"),
    ("health", "command c=health m=health_score"),
    ("health Globex", "command c=health acct=Globex"),
    ("how is acme doing?", "command c=health m=health_score"),
    ("health dropped last-month", "command c=health m=health_score p=2026-10"),
    ("who dropped to red", "command c=health m=health_score"),
    ("how is Red Cedar Pharma doing?", "command c=health acct=Red_Cedar_Pharma"),
    ("how is Acme Company doing?", "command c=health acct=Acme_Company"),
    # not understood: the leftover words named
    ("churn lastmonth", "err=period"),
    ("churn 2026-13", "err=period"),
    ("chrun by segmnt", "value unk=chrun|by|segmnt sug=churn|segment"),
    ("nrr for enterprize", "command c=nrr m=nrr unk=enterprize sug=enterprise"),
    ("churn for the moon segment", "command c=churn m=customer_churn_rate unk=moon|segment"),
    ("mrr by colour", "command c=mrr m=mrr unk=by|colour"),
    ("churn region:mars", "command c=churn m=customer_churn_rate unk=region:mars"),
    ("churn segmnt:smb", "command c=churn m=customer_churn_rate unk=segmnt:smb sug=segment:smb"),
    ("banana", "value unk=banana"),
    ("revenue last month", "value p=2026-10 unk=revenue sug=MRR"),
    # values, Japanese
    ("先月の解約率は？", "value c=churn m=customer_churn_rate p=2026-10"),
    ("解約率（先月）", "value c=churn m=customer_churn_rate p=2026-10"),
    ("今月のMRRはいくら？", "value c=mrr m=mrr p=2026-11-01~2026-11-22"),
    ("先月のＮＲＲ", "value c=nrr m=nrr p=2026-10"),
    ("２０２６年１０月の解約率", "value c=churn m=customer_churn_rate p=2026-10"),
    ("10月のチャーンレート", "value c=churn m=customer_churn_rate p=2026-10"),
    ("今四半期のNRRは？", "value c=nrr m=nrr p=2026-10-01~2026-11-22"),
    ("前四半期のGRRを教えて", "value c=grr m=grr p=2026-Q3"),
    ("今年のNPS", "value c=nps m=nps p=2026-01-01~2026-11-22"),
    ("昨年の解約率", "value c=churn m=customer_churn_rate p=2025"),
    ("過去3ヶ月の解約率", "value c=churn m=customer_churn_rate p=2026-08-01~2026-10-31"),
    ("過去1年の解約率", "value c=churn m=customer_churn_rate p=2025-11-01~2026-10-31"),
    ("直近2年間のNRR", "value c=nrr m=nrr p=2024-11-01~2026-10-31"),
    ("過去半年の解約率", "value c=churn m=customer_churn_rate p=2026-05-01~2026-10-31"),
    ("past year churn", "value c=churn m=customer_churn_rate p=2025-11-01~2026-10-31"),
    ("nrr for the last half year", "command c=nrr m=nrr p=2026-05-01~2026-10-31"),
    ("mrr for the past 2 years", "command c=mrr m=mrr p=2024-11-01~2026-10-31"),
    ("直近30日の月次アクティブユーザー", "value c=usage m=mau p=2026-10-23~2026-11-21"),
    ("先週の日次アクティブユーザー", "value c=usage m=dau p=2026-11-09~2026-11-15"),
    ("先月のARRはいくらでしたか", "value c=mrr m=arr p=2026-10"),
    ("年初来のNRR", "value c=nrr m=nrr p=2026-01-01~2026-11-22"),
    ("先月の純増MRR", "value c=mrr m=net_new_mrr p=2026-10"),
    ("先月のクイックレシオ", "value c=mrr m=quick_ratio p=2026-10"),
    ("先月のスティッキネスを知りたい", "value c=usage m=stickiness p=2026-10"),
    ("先月のシート利用率", "value c=usage m=seat_utilization p=2026-10"),
    ("先月の平均利用時間は？", "value c=usage m=avg_usage_minutes p=2026-10"),
    ("先月の拡大率", "value c=nrr m=expansion_rate p=2026-10"),
    ("先月のアップセル率", "value c=ltv m=upsell_rate p=2026-10"),
    ("先月のクロスセル率", "value c=ltv m=cross_sell_rate p=2026-10"),
    ("2026年7月のオンボーディング完了率", "value c=onboarding m=onboarding_completion_rate p=2026-07"),
    ("先月の顧客満足度は？", "value c=csat m=csat p=2026-10"),
    ("9月の解約率を教えて", "value c=churn m=customer_churn_rate p=2026-09"),
    ("2026年第3四半期のNRRは？", "value c=nrr m=nrr p=2026-Q3"),
    ("2026年のMRR", "value c=mrr m=mrr p=2026-01-01~2026-11-22"),
    ("今週のDAU", "value c=usage m=dau p=2026-11-16~2026-11-22"),
    ("先月のKPI", "value c=kpi p=2026-10"),
    ("ダッシュボード", "command c=kpi"),
    # filters in Japanese
    ("中小企業の先月のNRR", "value c=nrr m=nrr p=2026-10 f=segment:smb"),
    ("ミッドマーケットのMRR", "value c=mrr m=mrr f=segment:mid-market"),
    ("ハイタッチの顧客の解約率", "value c=churn m=customer_churn_rate f=touch_model:high"),
    ("テックタッチの顧客のNPSは？", "value c=nps m=nps f=touch_model:tech"),
    ("APACの解約率", "value c=churn m=customer_churn_rate f=region:apac"),
    ("ＡＰＡＣの先月の解約率", "value c=churn m=customer_churn_rate p=2026-10 f=region:apac"),
    ("担当:alice の解約率", "value c=churn m=customer_churn_rate f=owner:alice@example.com"),
    ("担当: bob 先月のMRR", "value c=mrr m=mrr p=2026-10 f=owner:bob@example.com"),
    ("proプランのMRR", "value c=mrr m=mrr f=plan:pro"),
    ("enterpriseプランの解約率", "value c=churn m=customer_churn_rate f=plan:enterprise"),
    ("先月のエンタープライズのNRRは？", "value c=nrr m=nrr p=2026-10 f=segment:enterprise"),
    ("エンタープライズの先月のNRR", "value c=nrr m=nrr p=2026-10 f=segment:enterprise"),
    ("コミュニティの顧客のNPS", "value c=nps m=nps f=touch_model:community"),
    ("segment:smbの先月の解約率", "value c=churn m=customer_churn_rate p=2026-10 f=segment:smb"),
    ("担当:山田の解約率", "value c=churn m=customer_churn_rate unk=担当:山田"),
    ("セグメント:エンタープライズ 解約率", "value c=churn m=customer_churn_rate f=segment:enterprise"),
    # breakdowns, trends, comparisons in Japanese
    ("プラン別のMRR", "breakdown c=mrr m=mrr by=plan"),
    ("地域別のNRR", "breakdown c=nrr m=nrr by=region"),
    ("タッチモデル別のNPS", "breakdown c=nps m=nps by=touch_model"),
    ("セグメントごとのMRR", "breakdown c=mrr m=mrr by=segment"),
    ("先月のセグメント別解約率", "breakdown c=churn m=customer_churn_rate p=2026-10 by=segment"),
    ("2026年第3四半期のプラン別NRR", "breakdown c=nrr m=nrr p=2026-Q3 by=plan"),
    ("担当者ごとの先月の解約率を教えて", "breakdown c=churn m=customer_churn_rate p=2026-10 by=owner"),
    ("エンタープライズの地域別MRR", "breakdown c=mrr m=mrr f=segment:enterprise by=region"),
    ("NRRの推移", "trend c=nrr m=nrr grain=month"),
    ("解約率の月次推移", "trend c=churn m=customer_churn_rate grain=month"),
    ("MRRの四半期ごとの推移", "trend c=mrr m=mrr grain=quarter"),
    ("週次のアクティブユーザー", "trend c=usage m=mau grain=week"),
    ("2026年の解約率の推移", "trend c=churn m=customer_churn_rate p=2026-01-01~2026-11-22 grain=month"),
    ("毎月の解約率", "trend c=churn m=customer_churn_rate grain=month"),
    ("解約率 前年比", "compare c=churn m=customer_churn_rate p=2026-10,2025-10"),
    ("NRRの前月比", "compare c=nrr m=nrr p=2026-10,2026-09"),
    ("Q2とQ3のNRRを比較", "compare c=nrr m=nrr p=2026-Q2,2026-Q3"),
    ("第2四半期と第3四半期の解約率", "compare c=churn m=customer_churn_rate p=2026-Q2,2026-Q3"),
    ("エンタープライズと中小企業の解約率を比較", "compare c=churn m=customer_churn_rate cf=segment:enterprise|segment:smb"),
    ("中小企業とエンタープライズの解約率を比較して", "compare c=churn m=customer_churn_rate cf=segment:smb|segment:enterprise"),
    ("Q2とQ3のNRRを比べてください", "compare c=nrr m=nrr p=2026-Q2,2026-Q3"),
    ("今月と先月のMRR", "compare c=mrr m=mrr p=2026-11-01~2026-11-22,2026-10"),
    ("先月の解約率を前年比で", "compare c=churn m=customer_churn_rate p=2026-10,2025-10"),
    # lists and counts in Japanese
    ("先月解約した顧客", "list p=2026-10 list=churn"),
    ("先月解約した顧客の一覧", "list p=2026-10 list=churn"),
    ("30日以内に更新の顧客", "list list=renewals n=30"),
    ("赤の顧客一覧", "list list=band band=red"),
    ("黄色の顧客", "list list=band band=yellow"),
    ("ヘルススコアが10ポイント以上下がった顧客", "list list=health_drop n=10"),
    ("先月新規の顧客", "list p=2026-10 list=new"),
    ("先月拡大した顧客", "list p=2026-10 list=expansion"),
    ("先月縮小した顧客は？", "list p=2026-10 list=contraction"),
    ("aliceの担当顧客", "list list=accounts f=owner:alice@example.com"),
    ("顧客は何社？", "count list=accounts"),
    ("エンタープライズの顧客数", "count list=accounts f=segment:enterprise"),
    ("先月解約した顧客は何社？", "value c=churn m=customer_churn_rate p=2026-10"),
    ("更新間近の顧客を教えて", "list list=renewals"),
    ("エンタープライズのリスクの高い顧客", "list list=band band=- f=segment:enterprise"),
    ("自分の顧客の解約率", "value c=churn m=customer_churn_rate f=owner:U0ALICE"),
    ("先月のNPSの内訳をセグメント別に", "breakdown c=nps m=nps p=2026-10 by=segment"),
    ("解約率はどう推移していますか", "trend c=churn m=customer_churn_rate grain=month"),
    ("APACとEMEAのNRRの違い", "compare c=nrr m=nrr cf=region:apac|region:emea"),
    ("担当者がbobの顧客", "list list=accounts f=owner:bob@example.com"),
    ("bobの担当している顧客の解約率", "value c=churn m=customer_churn_rate f=owner:bob@example.com"),
    # definitions, help and commands in Japanese
    ("NRRって何？", "define c=term term=NRR"),
    ("チャーンレートとは？", "define c=term term=チャーンレート"),
    ("LTVの意味", "define c=term term=LTV"),
    ("ヘルススコアとは何ですか", "define c=term term=ヘルススコア"),
    ("ヘルプ", "help c=help"),
    ("使い方", "help c=help"),
    ("何ができる？", "help c=help"),
    ("同期", "command c=sync"),
    ("ヘルススコア", "command c=health m=health_score"),
    ("日本橋ソリューションズの調子は？", "command c=health acct=日本橋ソリューションズ"),
    ("みなと商事の状態は？", "command c=health acct=みなと商事"),
    # not understood, Japanese
    ("先月の解約率と売上", "value c=churn m=customer_churn_rate p=2026-10 unk=売上"),
    ("ちゃーんの推移", "trend grain=month unk=ちゃーん"),
    ("先月のバナナ", "value p=2026-10 unk=バナナ"),
    ("解約率 segment:エンタープライス", "command c=churn m=customer_churn_rate unk=segment:エンタープライス"),
    ("担当:zedの解約率", "value c=churn m=customer_churn_rate unk=担当:zed"),
    ("２０２６年１３月の解約率", "err=period"),
    ("先月のMRRを見せて", "value c=mrr m=mrr p=2026-10"),
    ("今月の解約率はどうですか", "value c=churn m=customer_churn_rate p=2026-11-01~2026-11-22"),
    ("エンタープライズのセグメントの解約率", "value c=churn m=customer_churn_rate f=segment:enterprise"),
    ("日本の顧客数", "count list=accounts f=region:japan"),
    ("APACの顧客は何社ですか", "count list=accounts f=region:apac"),
    ("10月から11月までの解約率", "value c=churn m=customer_churn_rate p=2026-10-01~2026-11-22"),
    ("10月以降の解約率", "value c=churn m=customer_churn_rate p=2026-10-01~2026-11-22"),
    ("エンタープライズだけの解約率", "value c=churn m=customer_churn_rate f=segment:enterprise"),
    ("エンタープライズ以外の解約率", "value c=churn m=customer_churn_rate f=segment:enterprise unk=以外"),
    ("先月の解約率（セグメント別）", "breakdown c=churn m=customer_churn_rate p=2026-10 by=segment"),
]

# ---- a grid: every metric named in words with every kind of period, as a question in each language -----
METRICS = [  # (English words, Japanese words, metric, command)
    ("churn rate", "解約率", "customer_churn_rate", "churn"),
    ("mrr", "MRR", "mrr", "mrr"),
    ("arr", "年間経常収益", "arr", "mrr"),
    ("net revenue retention", "ネット売上維持率", "nrr", "nrr"),
    ("gross revenue retention", "GRR", "grr", "grr"),
    ("revenue churn", "収益解約率", "revenue_churn_rate", "churn"),
    ("nps", "NPS", "nps", "nps"),
    ("csat", "顧客満足度", "csat", "csat"),
    ("ltv", "LTV", "ltv", "ltv"),
    ("quick ratio", "クイックレシオ", "quick_ratio", "mrr"),
    ("expansion rate", "拡大率", "expansion_rate", "nrr"),
    ("retention rate", "継続率", "retention_rate", "retention"),
    ("arpa", "平均顧客単価", "arpa", "mrr"),
    ("net new mrr", "純増MRR", "net_new_mrr", "mrr"),
    ("onboarding completion rate", "オンボーディング完了率", "onboarding_completion_rate", "onboarding"),
]
PERIODS = [  # (English words, Japanese words, period)
    ("last month", "先月", "2026-10"),
    ("last quarter", "前四半期", "2026-Q3"),
    ("in 2026-09", "2026年9月", "2026-09"),
    ("in q2", "第2四半期", "2026-Q2"),
    ("last year", "昨年", "2025"),
]
GRID = []
for _en, _ja, _metric, _command in METRICS:
    for _pen, _pja, _period in PERIODS:
        _spec = f"value c={_command} m={_metric} p={_period}"
        GRID.append((f"what was {_en} {_pen}?", _spec))
        GRID.append((f"{_pja}の{_ja}はいくらでしたか？" if _metric in ("mrr", "arr", "arpa", "ltv", "net_new_mrr")
                     else f"{_pja}の{_ja}を教えて下さい", _spec))

TABLE = HAND + GRID
JAPANESE = [q for q, _ in TABLE if detect_language(q) == "ja"]


def test_the_table_holds_at_least_300_phrasings_half_of_them_japanese():
    assert len(TABLE) >= 300
    assert len({q for q, _ in TABLE}) == len(TABLE), "a phrasing is listed twice"
    assert len(JAPANESE) * 2 >= len(TABLE)


# ---- reading the expectations ----------------------------------------------------------------------

def period_of(text: str) -> tuple[date, date]:
    """(start, end exclusive) of ``2026-10``, ``2026-Q3``, ``2025``, ``2026-11-01~2026-11-22``; clipped to today."""
    if "~" in text:
        first, last = (date.fromisoformat(x) for x in text.split("~"))
        return first, last + timedelta(days=1)
    if "-Q" in text:
        year, q = text.split("-Q")
        start = date(int(year), 3 * int(q) - 2, 1)
        end = date(int(year) + (int(q) == 4), 1 if int(q) == 4 else 3 * int(q) + 1, 1)
    elif "-" in text:
        year, month = (int(x) for x in text.split("-"))
        start, end = date(year, month, 1), date(year + (month == 12), 1 if month == 12 else month + 1, 1)
    else:
        start, end = date(int(text), 1, 1), date(int(text) + 1, 1, 1)
    return start, min(end, TODAY + timedelta(days=1))


def filters_of(text: str) -> Filters:
    values: dict[str, object] = {}
    for pair in text.split(","):
        key, value = pair.split(":", 1)
        values[key] = (value,) if key == "owner" else value
    return Filters(**values)


def expected(spec: str) -> dict:
    words = spec.split()
    out: dict = {"intent": words[0], "filters": Filters(), "periods": [], "unknown": set(), "by": None, "grain": None,
                 "listing": None, "compare_filters": (), "list_top": None, "part": None}
    for word in words[1:]:
        key, _, value = word.partition("=")
        if key == "c":
            out["command"] = value
        elif key == "top":
            out["list_top"] = int(value)
        elif key == "part":
            out["part"] = value
        elif key == "m":
            out["metrics"] = tuple(value.split(","))
        elif key == "p":
            out["periods"] = [period_of(p) for p in value.split(",")]
        elif key == "f":
            out["filters"] = filters_of(value)
        elif key == "cf":
            out["compare_filters"] = tuple(filters_of(side) for side in value.split("|"))
        elif key in ("by", "grain"):
            out[key] = value
        elif key == "list":
            out["listing"] = value
        elif key == "band":
            out["list_band"] = None if value == "-" else value  # "-": every risky band
        elif key == "n":
            out["list_n"] = int(value)
        elif key == "acct":
            out["account"] = value.replace("_", " ")
        elif key == "term":
            out["term"] = value
        elif key == "unk":
            out["unknown"] = {word.replace("_", " ") for word in value.split("|")}  # "by_segment": one unknown of two words
        elif key == "sug":
            out["suggestions"] = set(value.split("|"))
        else:
            raise AssertionError(f"unknown field {key!r} in {spec!r}")
    return out


@pytest.fixture(scope="module")
def demo_ctx(shared_demo):
    engine = shared_demo.engine
    return Context.create(Database(engine=engine, url=str(engine.url), embedded=False),
                          Settings(database_url="sqlite:///unused-in-tests.db"), now=NOW, user_id="U0ALICE")


def understand(text: str, ctx: Context):
    with ctx.db.engine.connect() as conn:
        return parse_query(clean_text(text), ctx, detect_language(text), conn=conn)


@pytest.mark.parametrize("text, spec", TABLE, ids=[q for q, _ in TABLE])
def test_each_phrasing_is_understood_as_its_query(demo_ctx, text, spec):
    if spec.startswith("err="):
        kind = spec.removeprefix("err=")
        with pytest.raises(PeriodNotStarted if kind == "future" else PeriodError) as err:
            understand(text, demo_ctx)
        if kind == "future":
            assert "not started" in str(err.value) or "まだ始まっていない" in str(err.value)
        return
    want = expected(spec)
    q = understand(text, demo_ctx)
    assert q.intent == want["intent"], q
    assert [(p.start, p.end) for p in q.periods] == want["periods"], q
    assert q.filters == want["filters"], q
    assert q.compare_filters == want["compare_filters"], q
    assert set(q.unknown) == want["unknown"], q
    assert (q.by, q.grain, q.listing, q.part) == (want["by"], want["grain"], want["listing"], want["part"]), q
    for field in ("command", "metrics", "list_band", "list_n", "list_top", "account", "term"):
        if field in want:
            assert getattr(q, field) == want[field], (field, q)
    if "suggestions" in want:
        assert want["suggestions"] <= set(q.suggestions), q
    for p in q.periods:  # a period in progress is marked "to date"
        assert p.to_date == (p.end == TODAY + timedelta(days=1) and p.grain not in ("days", "day")), p


# ---- the property: an answered value is the explicit metric's value ----------------------------------

VALUES = [(q, s) for q, s in TABLE if s.split()[0] in ("value", "command") and " m=" in s and "unk=" not in s
          and " c=health" not in s and " accounts" not in q
          and "m=mrr_movements" not in s]  # a table of parts (tests/test_commands_metrics.py, test_metrics_properties.py)


@pytest.mark.parametrize("text, spec", VALUES, ids=[q for q, _ in VALUES])
def test_an_answered_value_equals_compute_metric_for_the_same_metric_period_and_filters(demo_ctx, text, spec):
    q = understand(text, demo_ctx)
    reply = dispatch(text, demo_ctx)
    assert reply.kind == "answer", reply.title
    asked = q.period or default_period(TODAY)
    stated = reply.data.get("period", asked.iso())
    # usage answers up to the last synced day: the same start, an end no later than asked
    assert stated["start"] == asked.start.isoformat() and stated["end"] <= asked.end.isoformat(), (stated, asked)
    period = replace(asked, end=date.fromisoformat(stated["end"]))
    with demo_ctx.db.engine.connect() as conn:
        for name in q.metrics:
            truth = compute_metric(conn, name, period, q.filters, demo_ctx.settings).value
            assert name in reply.data, (name, sorted(reply.data))
            got = reply.data[name]
            assert (got is None and truth is None) or got == pytest.approx(truth, rel=1e-9), (name, got, truth)
