"""The notebook engine of a run: quiet kernels, and analysts' pages that work offline."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

from churnlab.run._papermill import execute_notebook, notebook_to_html


def _tiny_notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "churnlab",
        "language": "python",
        "display_name": "churnlab",
    }
    nb.cells = [
        nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_markdown_cell("# A story\n\nwith $x^2$ maths"),
        nbformat.v4.new_code_cell("print(x + 1)"),
    ]
    nbformat.write(nb, path)
    return path


def test_a_successful_notebook_prints_no_kernel_error(tmp_path, capfd):
    # #22 item 11: every run printed "[IPKernelApp] ERROR | KeyboardInterrupt caught in
    # kernel." on stderr (jupyter_client interrupts the kernel before shutting it down)
    source = _tiny_notebook(tmp_path / "tiny.ipynb")
    target = tmp_path / "out.ipynb"
    execute_notebook(source, target, {"x": 41}, kernel="churnlab", cwd=tmp_path, timeout=60)
    err = capfd.readouterr().err
    assert "KeyboardInterrupt" not in err and "ERROR" not in err, err
    executed = nbformat.read(target, as_version=4)
    assert executed.cells[-1].outputs[0]["text"] == "42\n"

    # #22 item 10: the analysts' page of a notebook loads nothing from the internet
    page = notebook_to_html(target, tmp_path / "out.html").read_text(encoding="utf-8")
    assert "42" in page and "A story" in page
    assert not re.search(r"<script[^>]+src=", page)
    assert not re.search(r"(import|from)\s*[\"']https?://", page)
    assert "cdnjs" not in page and "jsdelivr" not in page
