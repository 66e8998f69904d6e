import pytest

from book.figures.descendants import family_masks


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_family_masks_draws_the_five_masks_in_the_pages_language(lang):
    fig = family_masks(lang)
    titles = [axis.get_title() for axis in fig.axes]
    assert len(titles) == 5
    assert ("仅解码器（GPT）" in titles) == (lang == "zh")
    causal = fig.axes[3].get_images()[0].get_array()
    assert causal.shape == (4, 4) and causal[0, 1] == 0 and causal[3, 0] == 1  # <s> five = 五: left only
    assert fig.axes[4].get_images()[0].get_array().min() == 1  # both sides
