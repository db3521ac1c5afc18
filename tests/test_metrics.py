import pytest
import torch
from torch import nn

import utils

PRED = torch.tensor([0, 1, 1, 2, 2, 2])
TRUE = torch.tensor([0, 1, 2, 2, 2, 0])


def test_accuracy_from_ids_and_logits():
    assert utils.accuracy(PRED, TRUE) == pytest.approx(4 / 6)
    logits = nn.functional.one_hot(PRED, 3).float()
    assert utils.accuracy(logits, TRUE) == pytest.approx(4 / 6)


def test_confusion_matrix_rows_are_true_classes():
    cm = utils.confusion_matrix(PRED, TRUE, num_classes=3)
    assert cm.tolist() == [[1, 0, 1], [0, 1, 0], [0, 1, 2]]


def test_classification_report_by_hand():
    report = utils.classification_report(PRED, TRUE, 3, class_names=["a", "b", "c"])
    assert list(report.index) == ["a", "b", "c"]
    assert report.loc["c", "precision"] == pytest.approx(2 / 3)
    assert report.loc["b", "precision"] == pytest.approx(1 / 2)
    assert report.loc["a", "recall"] == pytest.approx(1 / 2)
    assert report.loc["c", "f1"] == pytest.approx(2 / 3)
    assert report["support"].tolist() == [2, 1, 3]


def test_most_confused_pairs_reads_rows_as_true_and_columns_as_predicted():
    # asymmetric, distinct counts: swapping true and predicted (or the order) gives other rows
    matrix = torch.tensor([[5, 3, 0], [1, 7, 0], [0, 4, 9]])
    pairs = utils.most_confused_pairs(matrix, top=5)
    assert list(pairs.itertuples(index=False, name=None)) == [(2, 1, 4), (0, 1, 3), (1, 0, 1)]
    assert list(utils.most_confused_pairs(matrix, top=2).itertuples(index=False, name=None)) == [(2, 1, 4), (0, 1, 3)]


def test_most_confused_pairs_of_labels():
    # PRED/TRUE hold two mistakes: a true 2 predicted as 1 and a true 0 predicted as 2 (tied counts: any order)
    pairs = utils.most_confused_pairs(utils.confusion_matrix(PRED, TRUE, 3), top=5)
    assert sorted(pairs.itertuples(index=False, name=None)) == [(0, 2, 1), (2, 1, 1)]


def test_predict_batches_and_returns_cpu_logits():
    model = nn.Linear(4, 2)
    x = torch.randn(10, 4)
    out = utils.predict(model, x, batch_size=3)
    assert torch.allclose(out, model(x).detach())


@pytest.mark.parametrize("call,error", [
    (lambda: utils.accuracy(PRED, TRUE[:3]), ValueError),
    (lambda: utils.accuracy(PRED.float(), TRUE), ValueError),
    (lambda: utils.confusion_matrix(PRED, TRUE + 5, 3), ValueError),
    (lambda: utils.classification_report(PRED, TRUE, 3, class_names=["a"]), ValueError),
    (lambda: utils.most_confused_pairs(torch.zeros(2, 3)), ValueError),
    (lambda: utils.accuracy([0, 1], TRUE), TypeError),
    (lambda: utils.predict(nn.Linear(2, 2), [1.0, 2.0]), TypeError),
])
def test_bad_input(call, error):
    with pytest.raises(error):
        call()


def test_nan_logits_are_an_error_not_a_score():
    logits = torch.full((4, 3), float("nan"))
    targets = torch.tensor([0, 1, 2, 0])
    with pytest.raises(ValueError, match="NaN"):
        utils.accuracy(logits, targets)  # argmax of NaN logits is 0: accuracy 0.5 here, silently
    with pytest.raises(ValueError, match="NaN"):
        utils.expected_calibration_error(logits, targets)
    with pytest.raises(ValueError, match="NaN"):
        utils.most_confident_mistakes(logits, targets)


def test_predict_refuses_the_outputs_of_a_diverged_model():
    diverged = torch.nn.Linear(2, 3)
    with torch.no_grad():
        diverged.weight.fill_(float("nan"))
    with pytest.raises(ValueError, match="diverged"):
        utils.predict(diverged, torch.ones(5, 2))
