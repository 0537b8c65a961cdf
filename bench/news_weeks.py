"""A dated news set for bench/news.py: ten running stories, four weekly updates each.

Every update gives a new figure for the same thing (homes without power, cars recalled, money
raised...), so a question like "How many homes are still without power?" has a different right
answer each week: the latest update published by the moment it is asked. Updates of one story
share its names, its background paragraph and much of its vocabulary, as real follow-ups do.
Written for this benchmark (invented; MIT like the code). Nothing here is tuned on: the
pipeline's constants were set before this set existed.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Story:
    slug: str
    headline: str  # "{value}" is filled with the week's figure
    figure: str  # the sentence with the figure: "{value}" and "{previous}"
    values: tuple[str, str, str, str]
    background: str  # repeated in every update, as follow-ups do
    events: tuple[str, str, str, str]  # what else happened that week
    questions: tuple[str, str, str]


STORIES = (
    Story(
        "galicia-power",
        "Galicia storm: {value} homes still without power",
        "Utility Fenosa Norte said {value} homes in Galicia were without electricity on Monday, against {previous} a week earlier.",
        ("212,000", "64,000", "18,500", "2,300"),
        "Storm Oriana struck the northwest of Spain in January with gusts of more than 150 km/h, toppling pylons across the region.",
        (
            "Crews from Portugal and Asturias joined the repair effort, working through the night in Lugo province.",
            "The regional government opened warm shelters in 40 town halls for families without heating.",
            "Engineers said the last lines to be restored run through forested valleys that helicopters must reach.",
            "The utility said it would compensate households cut off for more than ten days.",
        ),
        (
            "How many homes are still without power in Galicia?",
            "What is the latest number of Galician homes without electricity?",
            "How many households in Galicia have no electricity now?",
        ),
    ),
    Story(
        "kestrel-recall",
        "Kestrel recall now covers {value} vehicles",
        "Kestrel Motor Co. said the brake recall now covers {value} vehicles, up from {previous}.",
        ("41,000", "97,500", "132,000", "158,000"),
        "The recall concerns a brake booster hose that can crack in cold weather and lengthen stopping distances.",
        (
            "Dealers were told to stop selling affected cars until the repair is done.",
            "Federal regulators opened an investigation into when the company first learned of the defect.",
            "The company added two model years of its Ridge SUV after warranty claims rose in Canada.",
            "Kestrel said replacement parts would reach every dealer by the end of the month.",
        ),
        (
            "How many vehicles does the Kestrel brake recall cover so far?",
            "What is the latest size of Kestrel's recall?",
            "How many cars are covered by the Kestrel recall now?",
        ),
    ),
    Story(
        "harbour-appeal",
        "Harbour appeal passes {value}",
        "The appeal to rebuild the Carrow Bay harbour wall has raised {value}, organisers said, compared with {previous} the previous week.",
        ("$48,000", "$131,000", "$260,000", "$402,000"),
        "Part of the 19th-century harbour wall collapsed during a winter storm, leaving the fishing fleet exposed.",
        (
            "A local bakery pledged a day's takings and a school held a sponsored swim.",
            "The state's tourism agency promised to match donations from businesses.",
            "A concert by the town's brass band sold out its 600 seats in an hour.",
            "Engineers began surveying the foundations so that work can start in the summer.",
        ),
        (
            "How much has the Carrow Bay harbour appeal raised so far?",
            "What is the latest total of the harbour wall appeal?",
            "How much money has the harbour appeal collected?",
        ),
    ),
    Story(
        "measles-outbreak",
        "Measles cases in Kessock County reach {value}",
        "County health officials confirmed {value} measles cases, up from {previous} a week before.",
        ("9", "23", "41", "47"),
        "The outbreak began at a primary school where vaccination rates had fallen below 85 percent.",
        (
            "The county opened walk-in vaccination clinics at two libraries.",
            "A second school closed for a week after three pupils fell ill.",
            "Officials said most new cases were among siblings of earlier patients.",
            "Health officials said the rate of new infections was finally slowing.",
        ),
        (
            "How many measles cases has Kessock County confirmed so far?",
            "What is the latest measles case count in Kessock County?",
            "How many people have measles in Kessock County now?",
        ),
    ),
    Story(
        "teachers-strike",
        "Teachers' strike enters day {value}",
        "The strike by Ashcombe teachers reached its {value}th day on Monday, after {previous} days the week before.",
        ("5", "10", "15", "20"),
        "Teachers walked out over a pay offer of 2 percent, which their union called an insult after years of inflation.",
        (
            "Parents organised play schemes in church halls while schools stayed shut.",
            "Talks at the conciliation service broke up without agreement after nine hours.",
            "The council offered 3.5 percent, which the union put to a ballot.",
            "Union leaders said members were split over the latest offer.",
        ),
        (
            "How many days has the Ashcombe teachers' strike lasted so far?",
            "What day is the Ashcombe teachers' strike on now?",
            "How long has the teachers' strike in Ashcombe been going on?",
        ),
    ),
    Story(
        "reservoir-level",
        "Thornfield reservoir falls to {value} percent",
        "Water in the Thornfield reservoir stood at {value} percent of capacity, down from {previous} percent a week earlier.",
        ("61", "54", "47", "39"),
        "A dry spring and a heatwave have left the reservoir that supplies 300,000 people lower than in any year since 1976.",
        (
            "The water company asked customers to stop watering lawns.",
            "A hosepipe ban came into force across the supply area.",
            "Farmers were told they may lose their abstraction licences if rain does not come.",
            "Tankers began moving water from a neighbouring utility.",
        ),
        (
            "How full is the Thornfield reservoir now?",
            "What is the latest level of the Thornfield reservoir?",
            "How much water is left in the Thornfield reservoir?",
        ),
    ),
    Story(
        "wildfire-area",
        "Serra wildfire has burned {value} hectares",
        "Civil protection said the Serra da Estrela fire had burned {value} hectares, against {previous} hectares the week before.",
        ("3,400", "9,800", "14,200", "15,100"),
        "The fire started near a forest road and spread fast through pine and eucalyptus in temperatures above 40C.",
        (
            "Around 800 firefighters and 12 water-bombing planes were deployed.",
            "Villagers in two parishes were evacuated as the fire crossed a ridge.",
            "Rain and cooler winds helped crews contain the eastern flank.",
            "Officials declared the fire under control but warned of flare-ups.",
        ),
        (
            "How many hectares has the Serra da Estrela fire burned so far?",
            "What is the latest estimate of the area burned by the Serra fire?",
            "How large is the area the Serra da Estrela wildfire has destroyed?",
        ),
    ),
    Story(
        "bridge-repairs",
        "Meridian bridge repairs {value} percent complete",
        "Contractors said repairs to the Meridian bridge were {value} percent complete, compared with {previous} percent the previous week.",
        ("20", "45", "70", "95"),
        "The bridge was closed after inspectors found corroded cables, forcing a 40-minute detour for commuters.",
        (
            "Night shifts were added so that two crews can work around the clock.",
            "The first of 48 replacement cables was lifted into place.",
            "Engineers began load tests on the northern span.",
            "The city said the bridge would reopen to cars within two weeks.",
        ),
        (
            "How far along are the repairs to the Meridian bridge?",
            "What is the latest progress on the Meridian bridge repairs?",
            "How much of the Meridian bridge repair work is finished now?",
        ),
    ),
    Story(
        "refinery-layoffs",
        "Greer refinery cuts reach {value} jobs",
        "Aurelis said {value} jobs would go at its Greer refinery, up from the {previous} it announced earlier.",
        ("150", "320", "410", "480"),
        "The refinery, which opened in 1964, has struggled since its biggest customer switched suppliers.",
        (
            "The state offered retraining grants for workers who lose their jobs.",
            "The union said it would fight any closure of the coker unit.",
            "Aurelis confirmed it had stopped one of the two crude units.",
            "Local shops said trade had already fallen by a third.",
        ),
        (
            "How many jobs is Aurelis cutting at Greer so far?",
            "What is the latest number of job cuts at the Greer refinery?",
            "How many workers will lose their jobs at the Greer refinery now?",
        ),
    ),
    Story(
        "flood-claims",
        "Insurers receive {value} flood claims",
        "Insurers said they had received {value} claims after the Oriel river floods, compared with {previous} a week earlier.",
        ("3,900", "8,700", "12,400", "13,900"),
        "The Oriel burst its banks after the wettest week on record, flooding homes in four market towns.",
        (
            "Loss adjusters were sent from across the country to inspect damaged homes.",
            "The government said it would cover costs for households without insurance.",
            "Many claimants said they were still waiting for a first visit.",
            "The insurers' association put the total bill at 310 million pounds.",
        ),
        (
            "How many flood claims have insurers received so far?",
            "What is the latest number of Oriel flood insurance claims?",
            "How many insurance claims have the Oriel floods produced now?",
        ),
    ),
)
FIRST_WEEK = dt.date(2026, 2, 2)  # a Monday


@dataclass(frozen=True)
class Article:
    name: str
    title: str
    published: dt.date
    paragraphs: tuple[str, ...]


@dataclass(frozen=True)
class Question:
    text: str
    as_of: dt.date
    article: str  # the right week's story
    answer: str


def articles() -> list[Article]:
    out = []
    for number, story in enumerate(STORIES):
        for week, value in enumerate(story.values):
            previous = story.values[week - 1] if week else "none"
            figure = story.figure.format(value=value, previous=previous)
            if not week:
                figure = figure.split(", against")[0].split(", up from")[0].split(", compared with")[0]
                figure = figure.split(", down from")[0].split(", after")[0].rstrip(".") + "."
            day = FIRST_WEEK + dt.timedelta(days=7 * week + number % 5)
            out.append(
                Article(
                    name=f"{story.slug}-week{week + 1}.md",
                    title=story.headline.format(value=value),
                    published=day,
                    paragraphs=(figure, story.events[week], story.background),
                )
            )
    return out


def questions(seed: int = 7) -> list[Question]:
    """Six per story: its three phrasings, each asked at two random moments after its first update."""
    rng = random.Random(seed)
    by_name = {a.name: a for a in articles()}
    out = []
    for story in STORIES:
        for text in story.questions:
            for week in rng.sample(range(4), 2):
                name = f"{story.slug}-week{week + 1}.md"
                published = by_name[name].published
                out.append(
                    Question(text, published + dt.timedelta(days=rng.randint(0, 5)), name, story.values[week])
                )
    return out


def story_index(name: str) -> int:
    """Which story (0-9) an article name belongs to."""
    return next(i for i, story in enumerate(STORIES) if name.startswith(story.slug + "-week"))


def markdown(article: Article, dated: bool = True) -> str:
    head = f"---\ntitle: {json.dumps(article.title)}\n" + (
        f"published: {article.published.isoformat()}\n" if dated else ""
    )
    return head + "---\n\n" + "\n\n".join(article.paragraphs) + "\n"
