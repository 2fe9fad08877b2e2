import pytest
import torch

from multiview.core.errors import UserError
from multiview.views.channels import normalized_lab, rgb_to_lab
from multiview.views.select import get_view

# Reference L*a*b* (D65) of the sRGB primaries and greys, from the CIE formulas.
KNOWN = [
    ((1.0, 1.0, 1.0), (100.0, 0.0, 0.0)),
    ((0.0, 0.0, 0.0), (0.0, 0.0, 0.0)),
    ((1.0, 0.0, 0.0), (53.24, 80.09, 67.20)),
    ((0.0, 1.0, 0.0), (87.73, -86.18, 83.18)),
    ((0.0, 0.0, 1.0), (32.30, 79.19, -107.86)),
    ((0.5, 0.5, 0.5), (53.39, 0.0, 0.0)),
]


@pytest.mark.parametrize("rgb,lab", KNOWN)
def test_lab_known_colours(rgb, lab):
    x = torch.tensor(rgb).view(1, 3, 1, 1).expand(2, 3, 4, 4)
    got = rgb_to_lab(x)[0, :, 0, 0]
    assert got.tolist() == pytest.approx(lab, abs=0.05)


def test_lab_views_split_channels_and_normalise():
    img = torch.rand(5, 3, 8, 8)
    batch = {"image": img, "label": torch.zeros(5)}
    cache = {}
    L, ab = get_view(batch, "L", cache), get_view(batch, "ab", cache)
    assert L.shape == (5, 1, 8, 8) and ab.shape == (5, 2, 8, 8)
    assert torch.allclose(torch.cat([L, ab], 1), normalized_lab(img))
    assert L.abs().max() <= 1.0 + 1e-5 and ab.abs().max() <= 1.2
    gray = torch.rand(3, 1, 8, 8).expand(3, 3, 8, 8)
    assert get_view({"image": gray}, "ab").sub(get_view({"image": torch.zeros(3, 3, 8, 8)}, "ab")).abs().max() < 1e-3


def test_unknown_view_names_the_choices():
    with pytest.raises(UserError, match="expected one of"):
        get_view({"image": torch.zeros(1, 3, 2, 2)}, "depth")
    with pytest.raises(UserError, match="needs batch key 'audio'"):
        get_view({"image": torch.zeros(1, 3, 2, 2)}, "audio")
