"""Make the sample corpus's PDF press release (examples/articles/news/carrow-bay-recount-result.pdf).

    pip install fpdf2 && python examples/make_sample_pdf.py

An invented press release (MIT, like the code): the result of the Carrow Bay recount, two
pages, with a title, author and creation date in the document information, so the chat shows
a dated PDF source cited by page.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fpdf import FPDF

OUT = Path(__file__).resolve().parent / "articles" / "news" / "carrow-bay-recount-result.pdf"
TITLE = "Kessock County certifies Carrow Bay mayoral recount"
PAGE_1 = [
    "KESSOCK COUNTY, Oregon - The hand recount of the Carrow Bay mayoral election confirmed Derek "
    "Ostrander as the winner, the Kessock County Clerk's Office announced on Monday, March 23, 2026.",
    "After all 41,738 ballots were counted again by hand, Ostrander finished 191 votes ahead of City "
    "Councilwoman Angela Ruiz-Whitfield, 20,965 to 20,774. The machine count had put his lead at 188 votes.",
    "Recount boards of two election workers each reviewed every ballot between March 16 and March 21 in "
    "the county fairgrounds exhibition hall, which was open to observers from both campaigns.",
    "County Clerk Miriam Oduya said the three-vote difference came from 14 ballots on which voters had "
    "circled a name instead of filling in the oval, which the scanners had read as blank.",
]
PAGE_2 = [
    "The county will certify the result on April 7, as planned after the recount was ordered, and the "
    "new mayor will be sworn in on May 1.",
    "The recount cost 36,400 dollars, below the 38,000 dollars the Clerk's Office had set aside for it.",
    "Media contact: Kessock County Clerk's Office, elections division.",
]


def main() -> None:
    pdf = FPDF()
    pdf.set_title(TITLE)
    pdf.set_author("Kessock County Clerk's Office")
    pdf.set_creation_date(dt.datetime(2026, 3, 23, 16, 0, tzinfo=dt.timezone(dt.timedelta(hours=-7))))
    pdf.set_font("Helvetica", size=11)
    for page in (PAGE_1, PAGE_2):
        pdf.add_page()
        if page is PAGE_1:
            pdf.set_font("Helvetica", style="B", size=15)
            pdf.multi_cell(0, 8, TITLE)
            pdf.ln(4)
            pdf.set_font("Helvetica", size=11)
        for paragraph in page:
            pdf.multi_cell(0, 6, paragraph)
            pdf.ln(3)
    pdf.output(str(OUT))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
