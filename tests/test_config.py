"""Config validation: defaults, grid expansion, and every bad input named clearly."""

import copy
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, TINY_CONFIG

from glassflow.config.grid import build_campaign, derive_seed
from glassflow.config.schema import ConfigError, validate_config


def campaign(cfg, schema, root):
    return build_campaign(cfg, schema, root)


def test_defaults_filled_and_grid_expanded(tiny_config, schema, root):
    camp = campaign(tiny_config, schema, root)
    assert sorted(camp.compositions) == ["x0.50_m2.00", "x0.50_m3.00"]
    assert camp.temperatures_K == [1600, 2400]
    assert camp.replicas == [1, 2]
    assert len(camp.runs()) == 2 * 2 * 2
    assert camp.config["system"]["neutrality"] == "scale_anion"
    assert camp.config["engine"]["accelerator"] == "none"
    ns = camp.compositions["x0.50_m2.00"]
    assert ns.net_charge_e == pytest.approx(0.0)
    s_rich = camp.compositions["x0.50_m3.00"]
    assert s_rich.net_charge_e < 0
    q = s_rich.charges_used
    counts = s_rich.composition.counts
    assert sum(counts[el] * q[el] for el in counts) == pytest.approx(0.0, abs=1e-9)


def test_default_and_paper_configs_validate(root, schema):
    for path in [root / "config/config.yaml", *sorted((root / "config/campaigns").glob("*.yaml"))]:
        camp = campaign(yaml.safe_load(path.read_text()), schema, root)
        assert camp.runs(), path


def test_seeds_deterministic_and_distinct(tiny_config, schema, root):
    a = campaign(tiny_config, schema, root)
    b = campaign(copy.deepcopy(tiny_config), schema, root)
    assert a.seed("x0.50_m2.00", 1) == b.seed("x0.50_m2.00", 1)
    seeds = {a.seed(c, r) for c in a.compositions for r in a.replicas}
    assert len(seeds) == 4
    assert all(1 <= s < 2**31 - 1 for s in seeds)
    assert derive_seed(1, "x", 1) != derive_seed(2, "x", 1)


def test_explicit_counts_replay_prl_series(tiny_config, schema, root):
    cfg = tiny_config
    cfg["compositions"] = {
        "explicit": [{"Na": 200, "Si": n, "S": 2800 - n} for n in (900, 600, 300)]
    }
    cfg["cell"] = {"mode": "length", "length_A": 40.0}
    camp = campaign(cfg, schema, root)
    assert sorted(camp.compositions) == ["x0.10_m2.00", "x0.14_m3.50", "x0.25_m8.00"]
    assert {cr.box_A for cr in camp.compositions.values()} == {40.0}
    assert camp.compositions["x0.10_m2.00"].composition.n_atoms == 3000


def _mutate(cfg, path, value):
    node = cfg
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    return cfg


@pytest.mark.parametrize(
    ("path", "value", "key", "expect"),
    [
        (("compositions", "grid", "x"), [1.2], "compositions.grid.x[0]", r"got 1.2; .* < 1$"),
        (("compositions", "grid", "x"), [1.0], "compositions.grid.x[0]", r"number >= 0 and < 1"),
        (("compositions", "grid", "m"), [1.5], "compositions.grid.m[0]", "got 1.5; .*>= 2"),
        (("temperatures_K",), [0, 1000], "temperatures_K[0]", "got 0; expected an integer > 0"),
        (("temperatures_K",), [-5], "temperatures_K[0]", "got -5; expected an integer > 0"),
        (("replicas",), 0, "replicas", "got 0; expected an integer >= 1"),
        (("engine", "accelerator"), "cuda", "engine.accelerator", "one of none, omp, gpu"),
        (
            ("engine", "cutoff_A"),
            12.0,
            "compositions.n_atoms",
            "shorter than twice engine.cutoff_A",
        ),
        (("compositions", "n_atoms"), 3, "compositions.n_atoms", "smallest n_atoms that works"),
        (("system", "modifier"), "Li", "system", "'Li' has no parameters"),
        (("campaign",), "../x", "campaign", "got '../x'; expected a string matching"),
        (("system", "modifier"), "Na; rm -rf ~", "system.modifier", "not an element symbol"),
        (("engine", "command"), ["lmp; rm -rf ~"], "engine.command", "command word"),
        (("engine", "command"), ["../../bin/lmp"], "engine.command", "command word"),
        (("system", "potential"), "../secret", "system.potential", "not a safe name"),
        (("protocol", "dump_interval_fs"), 2.5, "protocol.dump_interval_fs", "whole number"),
        (("cell",), {"mode": "length", "length_A": 10.0}, "cell.length_A", "shorter than twice"),
        (("cell", "density_g_cm3"), -1, "cell.density_g_cm3", "got -1; expected a number > 0"),
        (("unknown_key",), 1, "unknown_key", "unknown key"),
    ],
)
def test_bad_configs_rejected_naming_key(tiny_config, schema, root, path, value, key, expect):
    cfg = _mutate(tiny_config, path, value)
    with pytest.raises(ConfigError) as err:
        campaign(cfg, schema, root)
    msg = str(err.value)
    assert f"config key '{key}'" in msg, msg
    assert re.search(expect, msg, re.MULTILINE), msg


def test_campaign_name_with_path_traversal_rejected_by_package_too(tiny_config, schema, root):
    # the package check also holds when the schema pattern is bypassed
    from glassflow.safety import check_name

    for bad in ("../x", "a/b", "..", "x..y", "a b", "$(id)"):
        with pytest.raises(ValueError):
            check_name(bad, "campaign")
    assert check_name("sorensen2023_ns", "campaign") == "sorensen2023_ns"


def test_validate_config_does_not_mutate_input(tiny_config, schema):
    before = copy.deepcopy(tiny_config)
    out = validate_config(tiny_config, schema)
    assert tiny_config == before
    assert out["protocol"]["timestep_fs"] == 1.0


def test_schema_defaults_equal_package_defaults(tiny_config, schema):
    """The analysis defaults documented in the schema are the package's own."""
    from glassflow.analysis.dynamics.correlations import DynamicsSettings
    from glassflow.analysis.softness.settings import SoftnessSettings
    from glassflow.analysis.structure.settings import StructureSettings

    cfg = validate_config({}, schema)
    assert DynamicsSettings.from_dict(cfg["analysis"]["dynamics"]) == DynamicsSettings()
    assert SoftnessSettings.from_dict(cfg["analysis"]["softness"]) == SoftnessSettings()
    assert StructureSettings.from_dict(cfg["analysis"]["structure"]) == StructureSettings()


# --------------------------------------------------------------------------------------
# Readable errors: one short line per problem, typos get the closest key
# --------------------------------------------------------------------------------------
def _error(cfg, schema, root) -> str:
    with pytest.raises(ConfigError) as err:
        campaign(cfg, schema, root)
    return str(err.value)


def test_top_level_typo_names_key_and_suggests_the_close_one(tiny_config, schema, root):
    tiny_config["replicaz"] = tiny_config.pop("replicas")
    msg = _error(tiny_config, schema, root)
    assert "'replicaz'" in msg and "did you mean 'replicas'" in msg, msg
    assert len(msg.splitlines()) <= 3, msg
    assert "properties" not in msg and "description" not in msg, msg  # no schema dump


def test_nested_typo_suggests_the_key_of_its_section(tiny_config, schema, root):
    tiny_config["analysis"]["dynamics"]["n_lag"] = 30
    msg = _error(tiny_config, schema, root)
    assert "'analysis.dynamics.n_lag'" in msg, msg
    assert "did you mean 'analysis.dynamics.n_lags'" in msg, msg


def test_key_in_the_wrong_section_points_to_its_place(tiny_config, schema, root):
    tiny_config["production_ps"] = 10
    msg = _error(tiny_config, schema, root)
    assert "'production_ps'" in msg and "'protocol.production_ps'" in msg, msg


def test_unknown_key_without_close_match_lists_the_known_ones(tiny_config, schema, root):
    tiny_config["cell"]["zzz"] = 1
    msg = _error(tiny_config, schema, root)
    assert "'cell.zzz'" in msg and "density_g_cm3" in msg and "length_A" in msg, msg


def test_many_errors_are_capped_with_a_count(tiny_config, schema, root):
    for i in range(15):
        tiny_config[f"bogus_{i:02d}"] = i
    msg = _error(tiny_config, schema, root)
    assert len(msg.splitlines()) == 1 + 10 + 1, msg
    assert "and 5 more" in msg, msg


def test_wrong_type_names_value_and_expectation(tiny_config, schema, root):
    tiny_config["engine"]["cutoff_A"] = "far"
    msg = _error(tiny_config, schema, root)
    assert "'engine.cutoff_A'" in msg and "'far'" in msg and "expected a number > 0" in msg, msg


# --------------------------------------------------------------------------------------
# Coercion: integral floats for integers, strings from --config
# --------------------------------------------------------------------------------------
def test_integral_floats_become_integers_everywhere(tiny_config, schema, root):
    tiny_config["replicas"] = 2.0
    tiny_config["seed"] = 7.0
    tiny_config["temperatures_K"] = [1600.0, 2400.0]
    tiny_config["compositions"]["n_atoms"] = 150.0
    tiny_config["analysis"]["dynamics"]["n_lags"] = 60.0
    tiny_config["analysis"]["structure"]["max_frames"] = 10.0
    tiny_config["analysis"]["softness"]["n_bins"] = 8.0
    camp = campaign(tiny_config, schema, root)
    cfg = camp.config
    assert camp.replicas == [1, 2]
    assert camp.temperatures_K == [1600, 2400]
    for value in (
        cfg["replicas"],
        cfg["seed"],
        cfg["compositions"]["n_atoms"],
        *cfg["temperatures_K"],
        cfg["analysis"]["dynamics"]["n_lags"],
        cfg["analysis"]["structure"]["max_frames"],
        cfg["analysis"]["softness"]["n_bins"],
    ):
        assert type(value) is int, cfg
    assert cfg["analysis"]["dynamics"]["n_lags"] == 60
    from glassflow.analysis.dynamics.correlations import DynamicsSettings, lag_grid

    s = DynamicsSettings.from_dict(cfg["analysis"]["dynamics"])
    assert lag_grid(1000, s.n_lags).size > 30  # the call that crashed on 60.0


def test_integral_float_counts_of_explicit_compositions(tiny_config, schema, root):
    tiny_config["compositions"] = {"explicit": [{"Na": 50.0, "Si": 25.0, "S": 75.0}]}
    camp = campaign(tiny_config, schema, root)
    (cr,) = camp.compositions.values()
    assert cr.composition.counts == {"Na": 50, "Si": 25, "S": 75}
    assert all(type(n) is int for n in cr.composition.counts.values())


@pytest.mark.parametrize(
    ("path", "value", "key"),
    [
        (("replicas",), 2.5, "replicas"),
        (("seed",), 1.5, "seed"),
        (("temperatures_K",), [1600.5], "temperatures_K[0]"),
        (("analysis", "dynamics", "n_lags"), 60.5, "analysis.dynamics.n_lags"),
        (("compositions", "n_atoms"), 150.2, "compositions.n_atoms"),
    ],
)
def test_non_integral_float_is_a_clear_error(tiny_config, schema, root, path, value, key):
    msg = _error(_mutate(tiny_config, path, value), schema, root)
    assert f"config key '{key}'" in msg, msg
    assert str(value if not isinstance(value, list) else value[0]) in msg, msg
    assert "whole number" in msg and "integer" in msg, msg


@pytest.mark.parametrize(
    ("text", "expect"), [("true", True), ("True", True), ("TRUE", True), ("false", False)]
)
def test_boolean_strings_accepted(tiny_config, schema, root, text, expect):
    tiny_config["allow_missing_runs"] = text
    tiny_config["protocol"]["dump_velocities"] = text
    cfg = campaign(tiny_config, schema, root).config
    assert cfg["allow_missing_runs"] is expect
    assert cfg["protocol"]["dump_velocities"] is expect


def test_bad_boolean_string_names_key(tiny_config, schema, root):
    tiny_config["allow_missing_runs"] = "maybe"
    msg = _error(tiny_config, schema, root)
    assert "'allow_missing_runs'" in msg and "'maybe'" in msg and "true or false" in msg, msg


def test_command_line_strings_coerced_by_schema(tiny_config, schema, root):
    """`--config` nested values arrive as strings (YAML base loader): coerce by the schema."""
    tiny_config["temperatures_K"] = ["1600", "2400.0"]
    tiny_config["replicas"] = "3"
    tiny_config["protocol"]["production_ps"] = "4.0"
    tiny_config["analysis"]["structure"]["r_max_A"] = "null"
    cfg = campaign(tiny_config, schema, root).config
    assert cfg["temperatures_K"] == [1600, 2400]
    assert cfg["replicas"] == 3 and type(cfg["replicas"]) is int
    assert cfg["protocol"]["production_ps"] == 4.0
    assert cfg["analysis"]["structure"]["r_max_A"] is None


def test_coercion_does_not_mutate_input_nor_touch_booleans(tiny_config, schema):
    tiny_config["replicas"] = 2.0
    tiny_config["protocol"]["minimize"] = True
    before = copy.deepcopy(tiny_config)
    cfg = validate_config(tiny_config, schema)
    assert tiny_config == before and type(tiny_config["replicas"]) is float
    assert cfg["protocol"]["minimize"] is True


# --------------------------------------------------------------------------------------
# Schema bounds matching the path patterns
# --------------------------------------------------------------------------------------
def test_schema_bounds_grid_and_temperatures(tiny_config, schema, root):
    import re

    tiny_config["compositions"]["grid"] = {"x": [0.0, 0.5], "m": [2.0, 12.5]}
    tiny_config["compositions"]["n_atoms"] = 400
    tiny_config["temperatures_K"] = [1600, 123456]
    camp = campaign(tiny_config, schema, root)
    for label in camp.compositions:
        assert re.fullmatch(r"x\d\.\d{2}_m\d+\.\d{2}", label), label
    assert "x0.50_m12.50" in camp.compositions
    assert camp.temperatures_K == [1600, 123456]
    cfg = copy.deepcopy(tiny_config)
    cfg["compositions"]["grid"]["x"] = [1.0]
    assert "'compositions.grid.x[0]'" in _error(cfg, schema, root)
    cfg["compositions"]["grid"] = {"x": [0.5], "m": [1.9]}
    assert "'compositions.grid.m[0]'" in _error(cfg, schema, root)


# --------------------------------------------------------------------------------------
# Analysis settings cross-checked at workflow start
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("section", "key", "value", "expect"),
    [
        ("dynamics", "gk_window_ps", [1.0, 0.5], r"0 <= start < end"),
        ("dynamics", "gk_window_ps", [2.0, 3.0], r"gk_correlation_ps"),
        ("dynamics", "mobile_species", "Li", r"one of the campaign's elements Na, Si, S"),
        ("dynamics", "vanhove_lags_ps", [0.2, 50.0], r"production run \(4 ps"),
        ("dynamics", "vanhove_lags_ps", [0.001], r"frame interval"),
        ("dynamics", "fast_slow_lag_ps", 50.0, r"production run"),
        ("dynamics", "gk_correlation_ps", 40.0, r"production run"),
        ("dynamics", "n_blocks", 300, r"frames"),
        ("dynamics", "min_fit_time_ps", 2.0, r"min_fit_span"),
        ("dynamics", "fast_slow_rcut_A", 40.0, r"half the shortest cell"),
        ("dynamics", "si_s_cutoff_A", 40.0, r"half the shortest cell"),
        ("structure", "k_min_inv_A", 15.0, r"k_max_inv_A"),
        ("structure", "dk_inv_A", 20.0, r"k_max_inv_A - k_min_inv_A"),
        ("structure", "prepeak_window_inv_A", [1.5, 0.6], r"0 <= start < end"),
        ("structure", "prepeak_window_inv_A", [20.0, 30.0], r"outside"),
        ("structure", "r_max_A", 40.0, r"half the shortest cell"),
        ("structure", "cutoffs_A", {"Li-S": 3.0}, r"'Li-S'.*elements"),
        ("structure", "cutoffs_A", {"Si-S": 40.0}, r"g\(r\) range"),
        ("structure", "ss_bond_max_A", 40.0, r"g\(r\) range"),
        ("structure", "angle_bin_deg", 200.0, r"180"),
        ("softness", "species", "K", r"one of the campaign's elements"),
        ("softness", "mu_max_A", 7.0, r"r_max_A"),
        ("softness", "mu_min_A", 6.5, r"mu_max_A"),
        ("softness", "r_max_A", 40.0, r"half the shortest cell"),
        ("softness", "env_cutoff_A", 40.0, r"half the shortest cell"),
        ("softness", "d2min_cutoff_A", 40.0, r"half the shortest cell"),
        ("softness", "d2min_quantiles", [0.8, 0.5], r"0 <= low < high <= 1"),
        ("softness", "window_ps", 50.0, r"production run"),
        ("softness", "d2min_sublag_ps", 0.8, r"window_ps"),
        ("softness", "vanhove_lag_ps", 3.0, r"vanhove_lags_ps"),
        ("softness", "min_class_size", 1, r"expected an integer >= 2"),
    ],
)
def test_analysis_settings_checked_at_start(tiny_config, schema, root, section, key, value, expect):
    import re

    tiny_config["analysis"].setdefault(section, {})[key] = value
    msg = _error(tiny_config, schema, root)
    assert f"config key 'analysis.{section}.{key}'" in msg, msg
    assert re.search(expect, msg), msg
    assert len(msg.splitlines()) <= 3, msg


def test_threshold_pair_checked(tiny_config, schema, root):
    tiny_config["analysis"]["softness"] |= {"threshold_low": 3.0, "threshold_high": 2.0}
    msg = _error(tiny_config, schema, root)
    assert "'analysis.softness.threshold_low'" in msg and "threshold_high" in msg, msg


def test_run_too_short_for_the_dynamics(tiny_config, schema, root):
    tiny_config["protocol"]["production_ps"] = 0.02  # 3 frames of 10 fs
    msg = _error(tiny_config, schema, root)
    assert "'protocol.production_ps'" in msg and "4 frames" in msg, msg


def test_all_analysis_problems_reported_together(tiny_config, schema, root):
    a = tiny_config["analysis"]
    a["dynamics"]["gk_window_ps"] = [1.0, 0.5]
    a["structure"] = {"k_min_inv_A": 13.0, "k_max_inv_A": 12.0}
    a["softness"]["species"] = "Li"
    msg = _error(tiny_config, schema, root)
    for key in (
        "analysis.dynamics.gk_window_ps",
        "analysis.structure.k_min_inv_A",
        "analysis.softness.species",
    ):
        assert f"'{key}'" in msg, msg


def test_defaults_longer_than_a_short_run_are_clipped_not_rejected(tiny_config, schema, root):
    """Defaults (van Hove lags to 100 ps, 5 ps windows) are clipped to the run as documented;
    only values the user changed must fit in it."""
    tiny_config["analysis"] = {"dynamics": {"min_fit_time_ps": 0.2, "n_blocks": 2}}
    camp = campaign(tiny_config, schema, root)
    assert camp.config["analysis"]["dynamics"]["vanhove_lags_ps"] == [1.0, 10.0, 100.0]
    assert camp.config["protocol"]["production_ps"] == 4


# --------------------------------------------------------------------------------------
# Refused before any job: an unwritable results_dir, too few atoms
# --------------------------------------------------------------------------------------
def test_results_dir_under_a_file_is_refused_and_nothing_is_created(
    tiny_config, schema, root, tmp_path
):
    """Snakemake would fail on its first output directory, in a long traceback."""
    base = tmp_path
    blocker = base / "not_a_directory"
    blocker.write_text("a file where a directory is needed\n")
    tiny_config["results_dir"] = str(blocker / "results")
    with pytest.raises(ConfigError) as err:
        campaign(tiny_config, schema, root)
    msg = str(err.value)
    assert "config key 'results_dir'" in msg and str(blocker) in msg, msg
    assert "not a directory" in msg, msg
    assert len(msg.splitlines()) <= 3, msg
    assert sorted(base.iterdir()) == [blocker] and blocker.is_file()


def test_results_dir_on_a_filesystem_that_takes_no_files_is_refused(tiny_config, schema, root):
    """/proc takes no new files, not even from root (who ignores permission bits)."""
    if not Path("/proc/self").is_dir():
        pytest.skip("needs Linux /proc")
    tiny_config["results_dir"] = "/proc/glassflow_results"
    with pytest.raises(ConfigError) as err:
        campaign(tiny_config, schema, root)
    msg = str(err.value)
    assert "config key 'results_dir'" in msg and "/proc" in msg and "not writable" in msg, msg
    assert len(msg.splitlines()) <= 3, msg


def test_results_dir_that_does_not_exist_yet_is_accepted_not_created(
    tiny_config, schema, root, tmp_path
):
    base = tmp_path
    tiny_config["results_dir"] = str(base / "new" / "results")
    camp = campaign(tiny_config, schema, root)
    assert camp.results == base / "new" / "results" / "tiny"
    assert list(base.iterdir()) == []  # neither the directory nor a probe file left


def _smallest_n_atoms(msg: str) -> dict[str, int]:
    """{composition label: smallest n_atoms} named by an n_atoms error."""
    found = re.findall(
        r"composition (x\S+): .*the smallest n_atoms that works for it is (\d+)", msg
    )
    return {label: int(n) for label, n in found}


@pytest.mark.parametrize(
    ("n_atoms", "why"),
    [(3, "at least one Si atom"), (20, "shorter than twice engine.cutoff_A")],
    ids=["no_whole_units", "cell_too_short"],
)
def test_too_few_atoms_names_n_atoms_and_the_smallest_count(
    tiny_config, schema, root, n_atoms, why
):
    tiny_config["compositions"]["n_atoms"] = n_atoms
    with pytest.raises(ConfigError) as err:
        campaign(tiny_config, schema, root)
    msg = str(err.value)
    assert "config key 'compositions.n_atoms'" in msg and "cell.density_g_cm3'" not in msg, msg
    assert why in msg, msg
    smallest = _smallest_n_atoms(msg)
    assert set(smallest) <= {"x0.50_m2.00", "x0.50_m3.00"} and smallest, msg
    # the count given is the smallest that works for that composition
    for label, n in smallest.items():
        one = copy.deepcopy(tiny_config)
        one["compositions"]["grid"]["m"] = [float(label.split("_m")[1])]
        one["compositions"]["n_atoms"] = n
        assert list(campaign(one, schema, root).compositions) == [label]
        one["compositions"]["n_atoms"] = n - 1
        with pytest.raises(ConfigError, match=rf"composition {label}: .* is {n}\b"):
            campaign(one, schema, root)


def test_too_few_atoms_in_length_mode_names_n_atoms(tiny_config, schema, root):
    """With a fixed cell length only whole units count: at x=0.5, m=3, 3 atoms round to
    no Si atom, 4 to one Si and one Na2S unit (7 atoms)."""
    tiny_config["cell"] = {"mode": "length", "length_A": 20.0}
    tiny_config["compositions"]["n_atoms"] = 3
    with pytest.raises(ConfigError) as err:
        campaign(tiny_config, schema, root)
    assert _smallest_n_atoms(str(err.value)) == {"x0.50_m3.00": 4}, str(err.value)
    tiny_config["compositions"]["n_atoms"] = 4
    camp = campaign(tiny_config, schema, root)
    assert camp.compositions["x0.50_m3.00"].composition.counts == {"Na": 2, "Si": 1, "S": 4}


# --------------------------------------------------------------------------------------
# Dry runs: what a user sees from `snakemake -n`
# --------------------------------------------------------------------------------------
def _dry_run(tmp_path, *args):
    """`snakemake -n` in a scratch working directory; returns (exit code, all output)."""
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-n", "-d"]
        + [str(tmp_path / "wd"), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    return proc.returncode, proc.stdout + proc.stderr


def _job_counts(out: str) -> dict[str, int]:
    counts = {}
    for line in out.splitlines():
        m = re.fullmatch(r"([a-z_]+)\s+(\d+)", line.strip())
        if m:
            counts[m.group(1)] = int(m.group(2))
    return counts


def _tiny_edited(tmp_path, *edits):
    text = TINY_CONFIG.read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "campaign.yaml"
    path.write_text(text)
    return str(path)


def test_dry_run_top_level_typo_is_short(tmp_path):
    cfg = _tiny_edited(tmp_path, ("\nreplicas: 2", "\nreplicaz: 2"))
    code, out = _dry_run(tmp_path, "--configfile", cfg)
    assert code != 0
    assert "'replicaz'" in out and "did you mean 'replicas'" in out, out
    assert len(out.splitlines()) < 20, out


@pytest.mark.slow  # builds the whole DAG: 4-7 s
def test_dry_run_integral_float_replicas(tmp_path):
    cfg = _tiny_edited(tmp_path, ("\nreplicas: 2", "\nreplicas: 2.0"))
    code, out = _dry_run(tmp_path, "--configfile", cfg)
    assert code == 0, out
    counts = _job_counts(out)
    assert counts["build_cell"] == 2 * 2 and counts["production"] == 2 * 2 * 2, out


def test_dry_run_non_integral_integers(tmp_path):
    cfg = _tiny_edited(
        tmp_path,
        ("\nreplicas: 2", "\nreplicas: 2.5"),
        ("  dynamics:\n", "  dynamics:\n    n_lags: 60.5\n"),
    )
    code, out = _dry_run(tmp_path, "--configfile", cfg)
    assert code != 0
    assert "config key 'replicas': 2.5 is not a whole number" in out, out
    assert "config key 'analysis.dynamics.n_lags': 60.5 is not a whole number" in out, out
    assert len(out.splitlines()) < 20, out


def test_dry_run_rejects_bad_analysis_settings(tmp_path):
    """Settings that used to fail only in analyse_runs, after all the MD: all named at once."""
    cfg = _tiny_edited(
        tmp_path,
        ("gk_window_ps: [0.5, 1.0]", "gk_window_ps: [1, 0.5]"),
        ("  dynamics:\n", "  dynamics:\n    mobile_species: Li\n"),
        ("  structure:\n", "  structure:\n    k_min_inv_A: 13.0\n    k_max_inv_A: 12.0\n"),
    )
    code, out = _dry_run(tmp_path, "--configfile", cfg)
    assert code != 0, out
    for key in (
        "analysis.dynamics.gk_window_ps",
        "analysis.dynamics.mobile_species",
        "analysis.structure.k_min_inv_A",
    ):
        assert f"config key '{key}'" in out, out
    assert len(out.splitlines()) < 20, out
    assert not (tmp_path / "wd" / "results").exists()


@pytest.mark.slow  # builds the whole DAG: 4-7 s
def test_dry_run_command_line_boolean(tmp_path):
    code, out = _dry_run(
        tmp_path, "--configfile", str(TINY_CONFIG), "--config", "allow_missing_runs=true"
    )
    assert code == 0, out
    assert _job_counts(out)["production"] == 2 * 2 * 2, out


@pytest.mark.slow  # builds the whole DAG: 4-7 s
def test_dry_run_command_line_override_keeps_default_campaign(tmp_path):
    default = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    n_comp = len(default["compositions"]["grid"]["x"]) * len(default["compositions"]["grid"]["m"])
    n_T = len(default["temperatures_K"])
    code, out = _dry_run(tmp_path, "--config", "replicas=3")
    assert code == 0, out
    counts = _job_counts(out)
    assert counts["build_cell"] == n_comp * 3, out
    assert counts["production"] == n_comp * n_T * 3, out
    assert counts["analyse_runs"] == n_comp * n_T, out


@pytest.mark.slow  # builds the whole DAG: 4-7 s
def test_dry_run_configfile_still_replaces_the_default(tmp_path):
    code, out = _dry_run(tmp_path, "--configfile", str(TINY_CONFIG), "--config", "replicas=3")
    assert code == 0, out
    counts = _job_counts(out)
    assert counts["build_cell"] == 2 * 3 and counts["production"] == 2 * 2 * 3, out


def test_dry_run_refuses_a_results_dir_under_a_file(tmp_path):
    from test_workflow import snakemake

    blocker = tmp_path / "not_a_directory"
    blocker.write_text("")
    results = blocker / "results"
    proc = snakemake(
        "-n", "--configfile", str(TINY_CONFIG), "--config", f"results_dir={results}",
        "-d", str(tmp_path / "wd"), check=False,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "config key 'results_dir'" in out and str(blocker) in out, out
    assert len(out.splitlines()) < 20, out
    assert blocker.is_file() and not (tmp_path / "wd" / "results").exists()


def test_dry_run_refuses_too_few_atoms_naming_n_atoms(tmp_path):
    from test_workflow import snakemake

    cfg = _tiny_edited(tmp_path, ("n_atoms: 150", "n_atoms: 3"))
    proc = snakemake("-n", "--configfile", cfg, "-d", str(tmp_path / "wd"), check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "config key 'compositions.n_atoms'" in out, out
    assert "smallest n_atoms that works" in out, out
    assert len(out.splitlines()) < 20, out


# --------------------------------------------------------------------------------------
# The check functions themselves
# --------------------------------------------------------------------------------------
def test_fit_window_check_follows_how_the_fit_is_bounded():
    from glassflow.config.checks import RunFacts, check_dynamics

    facts = RunFacts(("Na", "Si", "S"), 10.0, 0.01, 20.0, "x0.50_m2.00")
    assert facts.n_frames == 1001
    defaults = {"min_fit_time_ps": 1.0, "min_fit_span": 3.0, "max_lag_fraction": 0.5}
    d = {"min_fit_time_ps": 2.0, "min_fit_span": 3.0, "max_lag_fraction": 0.5, "n_blocks": 5}
    (msg,) = check_dynamics(d, defaults | {"n_blocks": 5}, facts)  # 2 ps x 3 > 0.5 x 10 ps
    assert "'analysis.dynamics.min_fit_time_ps'" in msg and "5 ps (max_lag_fraction" in msg
    assert check_dynamics(d | {"max_lag_fraction": 0.6}, defaults, facts) == []  # 6 <= 6 ps
    blocks = {k: v for k, v in d.items() if k != "max_lag_fraction"}
    (msg,) = check_dynamics(blocks, defaults | {"n_blocks": 5}, facts)  # half of 2 ps blocks
    assert "1 ps (half a block" in msg, msg


def test_settings_dataclasses_run_their_own_checks_at_start():
    from glassflow.config.checks import package_settings_problems

    (msg,) = package_settings_problems({"dynamics": {"n_lagz": 3}})
    assert msg.startswith("config key 'analysis.dynamics'"), msg
    assert "did you mean analysis.dynamics.n_lags" in msg, msg
    assert package_settings_problems({}) == []


def test_settings_readers_take_integral_floats_only():
    from glassflow.analysis.dynamics.correlations import DynamicsSettings
    from glassflow.analysis.structure.settings import StructureSettings

    assert type(DynamicsSettings.from_dict({"n_lags": 60.0}).n_lags) is int
    assert StructureSettings.from_dict({"max_frames": 10.0}).max_frames == 10
    with pytest.raises(ValueError, match=r"analysis.dynamics.n_lags: 60.5 is not a whole number"):
        DynamicsSettings.from_dict({"n_lags": 60.5})
