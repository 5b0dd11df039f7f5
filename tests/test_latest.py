"""Recent news: ``recency_window`` reading "this week" and friends, ``/latest`` and ``newsbot latest``,
and /ask answering a question about recent news only from articles of that period."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from retrieval.models import AnswerMode, Article
from retrieval.search.params import SearchParams
from retrieval.search.recency import recency_window
from tests.bot_fixtures import BOB, CHAN_A, GUILD_A, LIB_A, bot_settings, content_of, running_bot, wait_response
from tests.conftest import make_service
from tests.processes import newsbot, user_env

TODAY = date(2026, 12, 6)
LAB = Article("Biosyngen opens a Guangzhou laboratory",
              "Biosyngen opened a cell therapy laboratory in Guangzhou, the company said on Friday.",
              publisher="Wire", url="https://news.example/biosyngen-lab")
VISIT = Article("ASEAN consuls general tour the Biosyngen base",
                "Consuls general from ASEAN countries visited the Biosyngen cell therapy base in Guangzhou.",
                publisher="GeneOnline")
ACME = Article("Acme sells record widgets", "Acme Corp sold more widgets in Perth than in any year before.")


def dated(article: Article, days_ago: int, today: date = TODAY) -> Article:
    return Article(article.title, article.body, article.url, article.publisher, today - timedelta(days=days_ago))


@pytest.mark.parametrize(("question", "days", "searched"), [
    ("What's new about Biosyngen this week?", 7, "about Biosyngen?"),
    ("What is the latest on Biosyngen?", 7, "What is on Biosyngen?"),
    ("Any deals in the last 10 days?", 10, "Any deals?"),
    ("Acme news from the past two weeks", 14, "Acme news"),
    ("Biosyngen in the past month", 30, "Biosyngen"),
    ("What did Acme announce today?", 0, "What did Acme announce?"),
    ("What did Acme announce yesterday?", 1, "What did Acme announce?"),
    ("Recent layoffs at Acme this year?", 365, "Recent layoffs at Acme?"),
    ("Any recent news about Acme?", 7, "Any news about Acme?"),
    ("What has Acme announced lately?", 7, "What has Acme announced?"),
    ("Today's deals?", 0, "deals?"),
])
def test_recency_window_reads_the_period_and_takes_its_words_out(question, days, searched):
    assert recency_window(question, TODAY) == (TODAY - timedelta(days=days), searched)


@pytest.mark.parametrize("question", [
    "Who visited Biosyngen?", "How did sales grow in recent years?", "Where is the New York office?",
    "Is the new Acme plant open?",
    # words that describe rather than ask for recent news, and a publisher's name
    "Which company, recently discussed in articles from The Verge, makes phones?",
    "What did Beats by Dre's latest product launch cost?", "Did sales beat the previous year's?",
    "What did USA Today report about Acme?", "How did last week's game end?",
])
def test_questions_without_recency_are_left_alone(question):
    assert recency_window(question, TODAY) == (None, question)


def test_vague_words_mean_the_default_window():
    assert recency_window("What's the latest?", TODAY, default_days=30)[0] == TODAY - timedelta(days=30)


@pytest.fixture
def clocked(settings, embedder, encoding):
    svc = make_service(settings, embedder, encoding, today=lambda: TODAY)
    svc.ingest("default", [dated(LAB, 2), dated(VISIT, 20), ACME])
    yield svc
    svc.close()


async def answer(service, question: str):
    events = [e async for e in service.ask("default", question)]
    return events[-1].answer


async def test_latest_lists_the_period_newest_first_then_the_undated(clocked):
    week = await clocked.latest("default")
    month = await clocked.latest("default", days=30)
    assert [r.source.title for r in week.articles] == [LAB.title]
    assert [r.source.title for r in week.undated] == [ACME.title]
    assert week.since == TODAY - timedelta(days=7) and week.period().startswith("published since 2026-11-29 (the last 7 days)")
    assert [r.source.title for r in month.articles] == [LAB.title, VISIT.title]


async def test_latest_about_a_topic_lists_only_matching_dated_articles(clocked):
    month = await clocked.latest("default", "Biosyngen Guangzhou", days=30)
    widgets = await clocked.latest("default", "Acme widgets Perth", days=30)
    assert [r.source.title for r in month.articles] == [LAB.title, VISIT.title] and month.undated == []
    assert widgets.rows == [] and widgets.undated_skipped == 1


async def test_a_question_about_this_week_is_answered_from_this_week_only(clocked):
    recent = await answer(clocked, "What's new about Biosyngen this week?")
    anytime = await answer(clocked, "Who visited the Biosyngen base?")
    assert recent.mode is AnswerMode.EXTRACTIVE and {c.source.title for c in recent.citations} == {LAB.title}
    assert VISIT.title in {c.source.title for c in anytime.citations}


async def test_a_period_without_articles_is_said_plainly(clocked):
    none_today = await answer(clocked, "What did Biosyngen announce today?")
    not_about = await answer(clocked, "What's new about Acme widgets this week?")
    assert none_today.mode is AnswerMode.NOT_FOUND and none_today.citations == ()
    assert none_today.text == "No article in this library was published since 2026-12-06, so I have no news that recent."
    assert not_about.text == "I found nothing about that in the 1 article published since 2026-11-29."
    assert "without a time" in not_about.note


async def test_what_is_new_without_a_topic_quotes_the_newest_articles(clocked):
    new = await answer(clocked, "What happened in the last 30 days?")
    assert {c.source.title for c in new.citations} <= {LAB.title, VISIT.title} and new.citations


def test_newsbot_latest_lists_articles_and_refuses_a_bad_number_of_days(tmp_path):
    today = date.today()
    lab = tmp_path / "lab.txt"
    lab.write_text(f"{LAB.title}\n\n{LAB.body}")
    old = tmp_path / "old.txt"
    old.write_text(f"{VISIT.title}\n\n{VISIT.body}")
    env = user_env(tmp_path / "home", NEWSBOT_SEED_DIR="", COLUMNS="200")
    assert newsbot(["add", str(lab), "--published", str(today - timedelta(days=1)), "--source", "Wire"], env, tmp_path).code == 0
    assert newsbot(["add", str(old), "--published", str(today - timedelta(days=40))], env, tmp_path).code == 0
    week = newsbot(["latest"], env, tmp_path)
    topic = newsbot(["latest", "Biosyngen", "consuls", "--days", "60"], env, tmp_path)
    bad = newsbot(["latest", "--days", "0"], env, tmp_path)
    assert week.code == 0 and week.out.splitlines() == [
        f"1 article published since {today - timedelta(days=7)} (the last 7 days), newest first:",
        f"{today - timedelta(days=1)}  {LAB.title} — Wire",
    ]
    assert topic.code == 0 and VISIT.title in topic.out and "about “Biosyngen consuls”" in topic.out
    assert bad.code == 2 and bad.err.strip().endswith("“0” is not a number of days (give 1 or more, e.g. --days 30)")


async def test_discord_latest_pages_through_the_newest_articles(fake, llm, tmp_path, embedder, encoding):
    settings = bot_settings(tmp_path, llm.base_url)
    today = date.today()
    async with running_bot(fake, settings, embedder, encoding) as bot:
        stories = [Article(f"Quokka Rail opens depot {n}", f"Quokka Rail opened depot number {n} in Perth.",
                           url=f"https://news.example/depot-{n}", published=today - timedelta(days=n % 5))
                   for n in range(12)]
        await bot.service.add_articles(LIB_A, [*stories, dated(VISIT, 30, today)])
        listing = await fake.send_slash_command(GUILD_A, CHAN_A, BOB, "latest")
        await wait_response(fake, listing, "edit_original")
        first = fake.find_message(listing.original_message_id)
        page_one = first.content
        following = first.components[0]["components"][1]["custom_id"]
        await fake.send_component_click(first, following, BOB)
        await fake.wait_for(lambda: "page 2/2" in content_of(fake, listing), timeout=15)
        topic = await fake.send_slash_command(GUILD_A, CHAN_A, BOB, "latest", {"topic": "ASEAN consuls", "days": 60})
        await wait_response(fake, topic, "edit_original")
    assert page_one.startswith(f"**Latest** — 12 articles published since {today - timedelta(days=7)}")
    assert "page 1/2" in page_one and len(re.findall(r"^\d{4}-\d\d-\d\d · ", page_one, re.M)) == 10
    assert "<https://news.example/depot-0>" in page_one and VISIT.title not in page_one
    assert len(re.findall(r"^\d{4}-\d\d-\d\d · ", content_of(fake, listing), re.M)) == 2
    assert VISIT.title in content_of(fake, topic) and "Quokka" not in content_of(fake, topic)
    assert fake.rejections == []


CITIES = ["Shanghai", "Beijing", "Shenzhen", "Wuhan", "Chengdu", "Hangzhou", "Nanjing", "Suzhou"]


def older_biosyngen(n: int) -> Article:
    """A long article from months ago that matches "Biosyngen" far better than ``LAB`` does."""
    city = CITIES[n % len(CITIES)]
    body = " ".join([
        f"Biosyngen, the Biosyngen cell therapy company, reported progress in {city} in update {n}.",
        f"Biosyngen said its Biosyngen T-cell programme enrolled more patients in {city} hospitals.",
        "Analysts who follow Biosyngen expect Biosyngen to publish more trial data next year.",
        f"Biosyngen executives told investors that Biosyngen would keep hiring in {city}.",
    ])
    return Article(f"Biosyngen update {n}: Biosyngen expands its {city} trials", body,
                   url=f"https://news.example/biosyngen-{n}", publisher="Wire",
                   published=TODAY - timedelta(days=40 + n))


@pytest.fixture(scope="module")
def crowded(tmp_path_factory, embedder, encoding):
    """80 older Biosyngen articles, ``LAB`` from 5 days ago and ``ACME`` from yesterday."""
    from tests.conftest import make_settings

    svc = make_service(make_settings(tmp_path_factory.mktemp("crowded")), embedder, encoding, today=lambda: TODAY)
    svc.ingest("default", [older_biosyngen(n) for n in range(80)] + [dated(LAB, 5), dated(ACME, 1)])
    yield svc
    svc.close()


async def test_a_recent_article_is_found_however_many_older_ones_match_better(crowded):
    recent = await answer(crowded, "What's new about Biosyngen this week?")
    assert recent.mode is AnswerMode.EXTRACTIVE
    assert {c.source.title for c in recent.citations} == {LAB.title}


@pytest.mark.parametrize(("query", "params"), [
    ("Biosyngen cell therapy laboratory", SearchParams(keyword_weight=0.0)),  # the vector list alone
    ("Biosyngen cell therapy laboratory", SearchParams(vector_weight=0.0)),  # the keyword list alone
    ("What did Wire report about Biosyngen trials?", SearchParams(vector_weight=0.0)),  # with Wire's sub-search
], ids=["vector", "keyword", "per-source"])
def test_every_candidate_list_keeps_to_the_period(crowded, query, params):
    week = crowded.search("default", query, params, since=TODAY - timedelta(days=7))
    assert week and {p.source.title for p in week} == {LAB.title}


async def test_a_period_whose_articles_are_about_something_else_has_nothing_about_it(crowded):
    latest = await answer(crowded, "What did Biosyngen announce in the last 2 days?")
    assert latest.mode is AnswerMode.NOT_FOUND and latest.citations == ()
    assert latest.text == f"I found nothing about that in the 1 article published since {TODAY - timedelta(days=2)}."
