"""mkdocs hooks: bundle MathJax into the built site (no CDN at build or view time)."""

import importlib.util
import pathlib
import shutil


def on_post_build(config, **kwargs):
    spec = importlib.util.find_spec("mathjax")  # the `django-static-mathjax` wheel
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "MathJax is not installed: `pip install -e '.[docs]'` "
            "(it brings `django-static-mathjax`, a packaged copy of MathJax 3)"
        )
    root = pathlib.Path(list(spec.submodule_search_locations)[0])
    src = root / "static" / "mathjax" / "es5"
    dst = pathlib.Path(config["site_dir"]) / "assets" / "mathjax"
    shutil.copytree(src, dst, dirs_exist_ok=True)
