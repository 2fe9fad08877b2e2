"""NaN embeddings are refused in one line, not reported as worst-case retrieval figures."""

import pytest
import torch

from multiview.core.errors import UserError
from multiview.eval.core.paired import retrieval_figures
from tests.eval.test_reports import batches, small_cmc


def test_nan_embeddings_are_refused_naming_the_model_view_and_rows():
    model = small_cmc()
    figures, _ = retrieval_figures(model, batches([4, 4]))  # finite: figures as usual
    assert 0 <= figures["retrieval/frame_to_audio/R@1"] <= 1
    with torch.no_grad():
        model.nets["audio"].net.stem[0].weight[0, 0] = float("nan")  # one diverged weight
    with pytest.raises(UserError) as e:
        retrieval_figures(model, batches([4, 4]))
    line = str(e.value)
    assert line == ("CMC: 8 of 8 'audio' embeddings hold NaN or inf values; no figure is computed from them "
                    "(the weights have diverged, or those inputs hold NaN)")


def test_some_nan_inputs_name_how_many_rows():
    data = batches([4, 4])
    data[1]["frame"][2] = float("nan")
    with pytest.raises(UserError, match=r"CMC: [1-8] of 8 'frame' embeddings hold NaN or inf values"):
        retrieval_figures(small_cmc(), data)
