"""`python -m benchmarks --quick` runs end to end and writes the page and the plot."""

from __future__ import annotations

from benchmarks.__main__ import PAGE_FILE, PLOT_FILE, main

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_quick_run_writes_page_and_plot(tmp_path):
    assert main(["--quick", "--output-dir", str(tmp_path)]) == 0

    page = (tmp_path / PAGE_FILE).read_text()
    assert "## Offline-plan time and peak memory" in page
    assert "## Provisioning critical path" in page
    assert "## Monthly cost of reference workloads" in page
    # One header row per table.
    assert page.count("| platform |") == 3
    assert "| hetzner-k3s | 10 (1) |" in page
    assert "| doks | 3 (1) |" in page
    assert "| doks | 3 |" in page
    assert f"({PLOT_FILE})" in page
    assert "--quick" in page
    assert (tmp_path / PLOT_FILE).read_bytes().startswith(PNG_SIGNATURE)
