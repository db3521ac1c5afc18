"""Where the course lives on GitHub: the one place a fork changes.

After changing ``GITHUB_SLUG`` run ``make colab-links``: it rewrites ``colab_links.md``, the README
tables and every notebook's Colab badge and setup cell from this value.
"""

GITHUB_SLUG = "int3414-course/cnn-computer-vision-pytorch"
GITHUB_BRANCH = "main"


def colab_url(notebook_path: str, slug: str = GITHUB_SLUG, branch: str = GITHUB_BRANCH) -> str:
    """Return the Open-in-Colab address of a notebook given by its path inside the repository.

    >>> colab_url("notebooks/week01_introduction.ipynb", slug="me/course")
    'https://colab.research.google.com/github/me/course/blob/main/notebooks/week01_introduction.ipynb'
    """
    if not notebook_path.endswith(".ipynb"):
        raise ValueError(f"expected a path ending in .ipynb, got {notebook_path!r}")
    if slug.count("/") != 1:
        raise ValueError(f"expected a GitHub slug 'owner/repository', got {slug!r}")
    return f"https://colab.research.google.com/github/{slug}/blob/{branch}/{notebook_path.lstrip('/')}"
