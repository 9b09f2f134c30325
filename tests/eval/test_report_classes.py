"""The report's classification plots: confusion with row shares, time to the right class."""

from matplotlib.image import imread

from luchtwacht.eval.report import class_delays, write_report
from tests.eval.test_goals_report import confusion, run, target


def test_time_to_the_right_class_is_counted_from_confirmation_per_class(tmp_path):
    runs = [
        run([target("d1", confirm=2.0, classify=4.0), target("d2", confirm=3.0, classify=None),
             target("b1", "bird", "bird", confirm=1.0, classify=0.5),
             target("far", confirm=None, classify=None)], confusion(drone_drone=5, bird_drone=1)),
        run([target("d1", confirm=2.0, classify=14.0)], confusion(drone_unknown=3)),
    ]  # fmt: skip
    delays = class_delays(runs)
    # d2 never carried its class; "far" was never confirmed and is left out; b1 was classed
    # (from the radar's report) before its confirmation: no negative delay.
    assert delays == {"drone": ([2.0, 12.0], 1), "bird": ([0.0], 0)}
    write_report(tmp_path, {"mixed": runs}, countries=tmp_path / "none.geojson")
    page = (tmp_path / "index.html").read_text()
    assert 'src="mixed-classtime.png"' in page and 'src="mixed-confusion.png"' in page
    img = imread(tmp_path / "mixed-confusion.png")
    # only the true classes present are rows: two rows make a short figure
    assert img.shape[0] < img.shape[1] * 0.7
    assert imread(tmp_path / "mixed-classtime.png").shape[0] > 100
