"""classify/export/explain are typed functions; their command lines are built from the signatures."""

from __future__ import annotations

import inspect

import pytest
from conftest import fixture

from ts_resnet.cli import classify as classify_cmd
from ts_resnet.cli import explain as explain_cmd
from ts_resnet.cli import export as export_cmd
from ts_resnet.cli.main import main
from ts_resnet.cli.signature import parser_for

MODEL = fixture("models", "demo-0.2.0.ckpt")
CINC = fixture("cinc2021-sample")


@pytest.mark.parametrize("func", [classify_cmd.classify, export_cmd.export, explain_cmd.explain])
def test_every_parameter_is_an_option_with_its_type_and_help(func):
    parser = parser_for(func, prog="x")
    dests = {a.dest for a in parser._actions if a.dest != "help"}
    assert dests == set(inspect.signature(func).parameters)
    text = parser.format_help()
    for name, param in inspect.signature(func).parameters.items():
        if param.kind is param.KEYWORD_ONLY:
            assert "--" + name.replace("_", "-") in text or name == "class_name"
    assert "type:" in text  # jsonargparse shows the type of each option


def test_dash_and_underscore_spellings_short_flags_and_typed_values():
    parser = parser_for(classify_cmd.classify, prog="x", aliases={"checkpoint": "-m", "quiet": "-q"})
    a = parser.parse_args(["r1", "r2", "-m", "m.ckpt", "--batch-size", "8", "--nan_policy", "zero", "-q",
                           "--threshold", "0.25"])
    assert a.paths == ["r1", "r2"] and a.checkpoint == ["m.ckpt"] and a.batch_size == 8
    assert a.nan_policy == "zero" and a.quiet is True and a.threshold == 0.25
    b = parser.parse_args(["r", "-m", "m"])
    assert b.quiet is False and b.batch_size == 64 and b.threshold is None and b.on_poor_quality == "warn"
    # a parameter typed `str | list[str]` is an option given once per value, here the members of an ensemble
    c = parser.parse_args(["-m", "a.ckpt", "r", "--checkpoint", "b.ckpt"])
    assert c.checkpoint == ["a.ckpt", "b.ckpt"] and c.paths == ["r"]


@pytest.mark.parametrize("argv,message", [
    (["classify", str(CINC), "-m", str(MODEL), "--device", "gpu"], "device"),
    (["classify", str(CINC), "-m", str(MODEL), "--batch-size", "many"], "batch_size"),
    (["classify", str(CINC), "-m", str(MODEL), "--threshold", "0.2", "--thresholds", "t.json"], "alternatives"),
    (["classify", str(CINC)], "checkpoint"),
    (["export", "-m", str(MODEL), "-f", "pickle", "-o", "x"], "format"),
])
def test_usage_errors_exit_2_and_name_the_option(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    assert message in capsys.readouterr().err


def test_the_function_and_the_command_give_the_same_file(tmp_path):
    records = [str(CINC / "E07500.hea"), str(CINC / "HR06000.hea")]
    assert classify_cmd.classify(records, checkpoint=str(MODEL), output=str(tmp_path / "a.csv"), quiet=True) == 0
    assert main(["classify", *records, "-m", str(MODEL), "-o", str(tmp_path / "b.csv"), "-q"]) == 0
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()
    assert (tmp_path / "a.csv").read_text().count("\n") == 3
    # errors a user can fix come back as exit status 2 with one line, not a traceback
    assert classify_cmd.classify(records, checkpoint=str(tmp_path / "missing.ckpt"), quiet=True) == 2


def test_top_level_help_and_version(capsys):
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    for cmd in ("fit", "validate", "test", "predict", "report", "classify", "export", "explain"):
        assert f"  {cmd}" in text
    assert main(["--version"]) == 0
    from ts_resnet import __version__

    assert capsys.readouterr().out.strip() == f"ts-resnet {__version__}"
    assert main(["frobnicate"]) == 2


def test_a_missing_data_folder_is_one_error_line_not_a_traceback(tmp_path, capsys):
    # The UCR module reads its files in __init__, where jsonargparse turns the FileNotFoundError into
    # "Does not validate against any of the Union subtypes" under 60 lines of traceback.
    from conftest import REPO

    missing = tmp_path / "no-archive"
    argv = ["fit", "-c", str(REPO / "configs" / "ucr.yaml"), f"--data.root={missing}", "--data.dataset=GunPoint",
            "--trainer.max_steps=1", f"--trainer.default_root_dir={tmp_path}"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"ts-resnet fit: error: {missing / 'GunPoint'}: no GunPoint_TRAIN.tsv" in err
    assert "Traceback" not in err and "Union subtypes" not in err and "TS_RESNET_TRACEBACK=1" in err
    assert not (tmp_path / "lightning_logs").exists()


def test_only_errors_about_the_users_files_lose_their_traceback():
    from ts_resnet.cli.main import input_error
    from ts_resnet.data.readers import read_numpy

    missing = FileNotFoundError(2, "No such file or directory", "/x/labels.csv")
    assert input_error(missing) is missing  # an OSError, wherever it was raised
    try:
        read_numpy(fixture("ucr"), fs=1.0)  # a folder: the reader's own ValueError (SignalReadError)
    except ValueError as e:
        from_reader = e
    wrapped = ValueError("Does not validate against any of the Union subtypes")
    wrapped.__cause__ = from_reader
    assert input_error(wrapped) is from_reader  # followed through jsonargparse's wrapper
    try:
        int("not a number")  # a ValueError raised outside ts_resnet.data: a bug, keeps its traceback
    except ValueError as e:
        assert input_error(e) is None
    assert input_error(TypeError("x")) is None


@pytest.mark.parametrize(("content", "message"), [
    (None, "truncated or damaged"),  # the first 4 KiB of a real checkpoint: a copy cut short
    (b"weights", "not a PyTorch checkpoint"),
])
def test_a_broken_ckpt_path_is_named_before_lightning_loads_it(tmp_path, capsys, content, message):
    # Lightning reads --ckpt_path while parsing; a truncated file failed there with "[Errno 22]"
    from conftest import REPO

    bad = tmp_path / "model.ckpt"
    bad.write_bytes(MODEL.read_bytes()[:4096] if content is None else content)
    argv = ["test", "-c", str(REPO / "configs" / "demo.yaml"), f"--ckpt_path={bad}",
            f"--trainer.default_root_dir={tmp_path}"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"ts-resnet test: error: {bad}: " in err and message in err and "Traceback" not in err


def test_a_second_run_without_logger_names_the_earlier_config(tmp_path, capsys):
    # With --trainer.logger=false Lightning saves config.yaml in the run folder and refuses to replace
    # it on the next run, advising Python (LightningCLI(save_config_kwargs=...)) in a traceback
    from conftest import REPO

    earlier = tmp_path / "config.yaml"
    earlier.write_text("# an earlier run's config\n")
    argv = ["fit", "-c", str(REPO / "configs" / "demo.yaml"), "--trainer.logger=false",
            f"--trainer.default_root_dir={tmp_path}", "--trainer.max_epochs=1", "--data.init_args.num_records=60"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"ts-resnet fit: error: {earlier} exists" in err and "--trainer.default_root_dir" in err
    assert "Traceback" not in err and earlier.read_text() == "# an earlier run's config\n"
