import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import utils  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_show_images_captions_mistakes_in_red():
    fig = utils.show_images(torch.rand(5, 1, 28, 28), labels=[1, 2, 3, 4, 5], predictions=[1, 2, 3, 4, 0], ncols=3)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["1", "2", "3", "4", "0 (5)"]
    wrong = [ax for ax in fig.axes if ax.get_title() == "0 (5)"][0]
    assert wrong.title.get_color() == "red"


def test_show_images_accepts_hwc_arrays_and_class_names():
    fig = utils.show_images([np.zeros((8, 8, 3))] * 2, labels=[0, 1], class_names=["cat", "dog"])
    assert [ax.get_title() for ax in fig.axes if ax.get_title()] == ["cat", "dog"]


def test_show_images_bad_input():
    with pytest.raises(ValueError, match="no images"):
        utils.show_images([])
    with pytest.raises(ValueError, match="3 images but 2 labels"):
        utils.show_images(torch.rand(3, 1, 4, 4), labels=[1, 2])
    with pytest.raises(ValueError, match="expected one image"):
        utils.show_images(torch.rand(2, 4))


def test_plot_history_panels_and_bad_input():
    history = pd.DataFrame({"epoch": [1, 2], "train_loss": [1.0, 0.5], "val_loss": [1.1, 0.7],
                            "train_accuracy": [0.5, 0.8], "val_accuracy": [0.4, 0.7]})
    fig = utils.plot_history(history)
    assert [ax.get_ylabel() for ax in fig.axes] == ["loss", "accuracy"]
    assert len(fig.axes[0].lines) == 2
    with pytest.raises(ValueError, match="epoch"):
        utils.plot_history(pd.DataFrame({"loss": [1]}))
    with pytest.raises(ValueError, match="none of"):
        utils.plot_history(history, metrics=("f1",))


def test_plot_confusion_matrix_and_bad_input():
    fig = utils.plot_confusion_matrix(torch.tensor([[5, 1], [0, 7]]), class_names=["a", "b"])
    assert fig.axes[0].get_xlabel() == "predicted class"
    with pytest.raises(ValueError, match="square"):
        utils.plot_confusion_matrix(np.zeros((2, 3)))


def test_plot_filters_and_feature_maps():
    fig = utils.plot_filters(torch.randn(6, 1, 5, 5))
    assert sum(1 for ax in fig.axes if ax.images) == 6
    fig = utils.plot_feature_maps(torch.rand(1, 4, 10, 10))
    assert sum(1 for ax in fig.axes if ax.images) == 4
    with pytest.raises(ValueError, match="conv weight"):
        utils.plot_filters(torch.randn(6, 5, 5))
    with pytest.raises(ValueError, match="feature maps"):
        utils.plot_feature_maps(torch.rand(10, 10))


def test_show_as_jpeg_is_small_closes_the_figure_and_rejects_bad_quality():
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.imshow(np.random.default_rng(0).random((300, 600)), cmap="gray")  # noise: the worst case for PNG
    data = utils.show_as_jpeg(fig)
    assert data[:2] == b"\xff\xd8"  # a JPEG file
    assert len(data) < 300_000
    assert not plt.fignum_exists(fig.number)
    with pytest.raises(ValueError, match="quality"):
        utils.show_as_jpeg(plt.figure(), quality=0)
