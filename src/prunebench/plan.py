"""What an experiment asks for, derived once from its validated config: every job's science and
every file it writes (through `prunebench.paths`). The workflow wires its rules from this, the
report reads the same lists, and each job receives its science as a typed JobSpec (`*_spec`,
prunebench.jobspec) and the operational settings apart (`operations`, prunebench.ops), so
changing those re-runs nothing. Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from . import paths
from .config import TrainSettings, dataset_loader
from .jobspec import ProxySettings, ProxySpec, SelectSpec, TrainSpec
from .label_noise import noise_settings
from .methods import (
    SCORES,
    TRAINED_SCORES,
    base_method,
    embeddings_file,
    from_state,
    method_entry,
    method_fractions,
    method_options,
    method_score,
    proxy_array_file,
    state_epoch,
    state_file,
)
from .ops import Ops
from .proxies import DEFAULT_PROXY, method_proxy, proxy_settings


@dataclass(frozen=True)
class Run:
    dataset: str
    method: str
    fraction: float
    seed: int


class ExperimentPlan:
    def __init__(self, config: dict):
        self.config = config
        self.experiment = config["experiment"]
        self.datasets = config["datasets"]
        self.proxy = config["proxy"]

    # -- keys: what each stage's results are filed under -----------------------------------
    def loader(self, dataset: str) -> str:
        return dataset_loader(dataset, self.datasets[dataset])

    def data_key(self, dataset: str) -> str:
        return paths.data_key(self.loader(dataset), self.datasets[dataset].get("options", {}))

    def data_dir(self, dataset: str) -> str:
        return paths.fill(paths.DATA, data=self.data_key(dataset))

    # -- label noise ------------------------------------------------------------------------
    def label_noise(self, dataset: str) -> dict | None:
        """The dataset's label_noise settings (defaults filled), or None without."""
        return noise_settings(self.datasets[dataset].get("options", {}))

    def noisy_datasets(self) -> list[str]:
        return [d for d in self.datasets if self.label_noise(d) is not None]

    def prepared_files(self, dataset: str) -> list[str]:
        """Every file of the dataset's prepared folder (the label-noise ones when it has it)."""
        names = [*paths.PREPARED_FILES]
        if self.label_noise(dataset) is not None:
            names += paths.LABEL_NOISE_FILES
        return [f"{self.data_dir(dataset)}/{name}" for name in names]

    def noise_mask_file(self, dataset: str) -> str:
        return f"{self.data_dir(dataset)}/{paths.LABEL_NOISE_FILES[1]}"

    def detection_scores(self, dataset: str) -> list[str]:
        """Scores whose detection of flipped labels is measured: every rankable score the proxy
        runs save, for a dataset with label noise; none otherwise."""
        if self.label_noise(dataset) is None or not self.needs_proxy():
            return []
        return [s for s in self.proxy["scores"] if s in SCORES and SCORES[s].rankable]

    def noise_inputs(self) -> list[str]:
        """What detection reads (aggregate, report): each noisy dataset's mask and scores."""
        return [file for d in self.noisy_datasets()
                for file in [self.noise_mask_file(d),
                             *(self.score_file(d, s) for s in self.detection_scores(d))]]

    def model(self, dataset: str) -> str:
        """The dataset's (target) model."""
        return self.datasets[dataset]["model"]

    def proxy_settings(self, name: str = DEFAULT_PROXY) -> dict:
        """A proxy's settings: the `proxy` section, then (a named proxy) what it sets itself."""
        return proxy_settings(self.config, name)

    def proxy_model(self, dataset: str, name: str = DEFAULT_PROXY) -> str:
        return paths.proxy_recipe(self.datasets[dataset], self.proxy_settings(name))["model"]

    def proxy_key(self, dataset: str, name: str = DEFAULT_PROXY) -> str:
        return paths.proxy_key(self.datasets[dataset], self.proxy_settings(name))

    @cached_property
    def fractions(self) -> dict[str, float]:
        """Path label -> the exact fraction the config gave (1 for full and own-budget runs)."""
        values = [*self.config["fractions"], 1.0]
        return {paths.fraction_label(v): v for v in values}

    # -- runs -------------------------------------------------------------------------------
    def runs(self) -> list[Run]:
        return [Run(dataset, method, fraction, seed)
                for dataset in self.datasets
                for method in self.config["methods"]
                for fraction in method_fractions(method, self.config["fractions"], self.config)
                for seed in self.config["seeds"]]

    def run_dir(self, run: Run) -> str:
        return paths.run_dir(self.experiment, run.dataset, run.method, run.fraction, run.seed)

    def subset_file(self, run: Run, suffix: str = ".npy") -> str:
        return paths.subset_file(self.experiment, run.dataset, run.method, run.fraction,
                                 run.seed, suffix)

    def expected(self) -> list[dict]:
        """Every result file aggregate needs, described for missing.csv (no path parsing)."""
        rows = [{"what": "run", "dataset": r.dataset, "model": self.model(r.dataset),
                 "method": r.method, "fraction": r.fraction, "seed": r.seed,
                 "path": f"{self.run_dir(r)}/metrics.json"} for r in self.runs()]
        rows += [{"what": "proxy", "dataset": d, "model": self.proxy_model(d, name),
                  "method": "", "fraction": float("nan"), "seed": seed, "path": record}
                 for d, name, seed in self.proxy_runs()
                 for record in self.proxy_records(d, seed, name)]
        return rows

    # -- proxies and scores -----------------------------------------------------------------
    def needs_proxy(self) -> bool:
        return bool(self.proxy_names())

    def proxy_names(self) -> list[str]:
        """The proxies the methods score with, the default first (empty: none needs one)."""
        used = {method_proxy(m, self.config) for m in self.config["methods"]
                if method_entry(m, self.config).needs_proxy}
        return [name for name in [DEFAULT_PROXY, *self.config.get("proxies", {})] if name in used]

    def proxy_seeds(self, name: str = DEFAULT_PROXY) -> int:
        return self.proxy_settings(name)["seeds"]

    def proxy_dir(self, dataset: str, seed: int, name: str = DEFAULT_PROXY) -> str:
        return paths.fill(paths.PROXY, data=self.data_key(dataset),
                          model=self.proxy_model(dataset, name),
                          proxy=self.proxy_key(dataset, name), seed=seed)

    def proxy_runs(self) -> list[tuple[str, str, int]]:
        """(dataset, proxy name, seed) of every proxy run the experiment needs."""
        return [(dataset, name, seed) for name in self.proxy_names() for dataset in self.datasets
                for seed in range(self.proxy_seeds(name))]

    def proxy_records(self, dataset: str, seed: int, name: str = DEFAULT_PROXY) -> list[str]:
        """What one proxy run's scores cost, as the aggregate reads it: its metrics.json, then
        the cost record of each score computed from its saved state."""
        folder = self.proxy_dir(dataset, seed, name)
        return [f"{folder}/metrics.json",
                *[f"{folder}/{paths.state_cost_file(array)}" for array in self.state_arrays()]]

    def proxy_metrics(self) -> list[str]:
        return [record for d, name, seed in self.proxy_runs()
                for record in self.proxy_records(d, seed, name)]

    def proxy_metrics_by_name(self) -> dict[str, list[str]]:
        """Proxy name -> its runs' cost records (the summary charges each method its own)."""
        out: dict[str, list[str]] = {name: [] for name in self.proxy_names()}
        for d, name, seed in self.proxy_runs():
            out[name] += self.proxy_records(d, seed, name)
        return out

    def method_proxy(self, method: str) -> str:
        """The proxy a method's scores or embeddings come from."""
        return method_proxy(method, self.config)

    def proxy_files(self) -> list[str]:
        """File names every proxy run writes: the arrays it computes while training
        (TRAINED_SCORES), metrics.json, history.csv and the model states later scores are
        computed from (at initialisation and at the score epoch)."""
        k = self.proxy["score_epoch"]
        arrays = [proxy_array_file(s, k) for s in TRAINED_SCORES]
        return [*arrays, "metrics.json", "history.csv", state_file(0), state_file(k)]

    def state_arrays(self) -> dict[str, str]:
        """Array file stem -> score, for each score of `proxy.scores` computed from a proxy
        run's saved state (a `score_proxy` job per proxy run), not while it trains."""
        k = self.proxy["score_epoch"]
        return {proxy_array_file(s, k).removesuffix(".npy"): s
                for s in self.proxy["scores"] if from_state(s)}

    def state_input(self, score: str) -> str:
        """The state file (inside a proxy run's folder) a score is computed from."""
        return state_file(state_epoch(score, self.proxy["score_epoch"]))

    def produced_scores(self, name: str | None = None) -> list[str]:
        """Mean score files the workflow builds: only those a configured method ranks by (with
        `name`: by that proxy's scores)."""
        scores = {method_score(m, self.config) for m in self.config["methods"]
                  if name is None or method_proxy(m, self.config) == name}
        return sorted(score for score in scores if score)

    def score_file(self, dataset: str, score: str, name: str = DEFAULT_PROXY) -> str:
        return paths.fill(paths.SCORE, data=self.data_key(dataset),
                          model=self.proxy_model(dataset, name),
                          proxy=self.proxy_key(dataset, name),
                          proxy_seeds=self.proxy_seeds(name), score=score)

    def score_files(self) -> list[str]:
        return [self.score_file(d, s, name) for name in self.proxy_names() for d in self.datasets
                for s in dict.fromkeys([*self.produced_scores(name),
                                        *(self.detection_scores(d) if name == DEFAULT_PROXY
                                          else [])])]

    def embeddings_file(self, dataset: str, name: str = DEFAULT_PROXY) -> str:
        """The first proxy seed's penultimate embeddings (kCenter, Herding, Moderate)."""
        return f"{self.proxy_dir(dataset, 0, name)}/{embeddings_file(self.proxy['score_epoch'])}"

    def charged_score(self, method: str) -> str | None:
        """The proxy array whose cost a method's runs are charged: its score, "embeddings"
        (kCenter, Herding, Moderate; the first proxy seed's), or None."""
        if method_entry(method, self.config).embeddings:
            return "embeddings"
        return method_score(method, self.config)

    def selection_values(self, dataset: str, method: str) -> str | None:
        """What a static method's select job reads: its mean score file, the proxy's
        embeddings, or nothing (random); from the method's proxy."""
        score, name = method_score(method, self.config), self.method_proxy(method)
        if score:
            return self.score_file(dataset, score, name)
        if method_entry(method, self.config).embeddings:
            return self.embeddings_file(dataset, name)
        return None

    # -- what each job receives -------------------------------------------------------------
    def operations(self) -> Ops:
        """Operational settings: how jobs run, never what they compute."""
        return Ops.from_config(self.config)

    def training(self, dataset: str) -> TrainSettings:
        return TrainSettings.from_dataset_config(paths.recipe(self.datasets[dataset]))

    def proxy_spec(self, dataset: str, name: str = DEFAULT_PROXY) -> ProxySpec:
        """A proxy run's science: the recipe it trains with (the dataset's, overridden by the
        proxy's own keys) and its settings. It names the loader, not the entry: proxy runs are
        shared by every entry (of any experiment) with the same data and recipe, so their
        params must not depend on which entry asked first (summary charges each entry its own
        copy)."""
        settings = self.proxy_settings(name)
        recipe = paths.proxy_recipe(self.datasets[dataset], settings)
        return ProxySpec(dataset=self.loader(dataset),
                         training=TrainSettings.from_dataset_config(recipe),
                         proxy=ProxySettings.from_dict(paths.proxy_science(settings)))

    def train_spec(self, dataset: str, method: str, fraction: float) -> TrainSpec:
        return TrainSpec(dataset=dataset, protocol=self.config["protocol"],
                         training=self.training(dataset), method=method,
                         base_method=base_method(method, self.config),
                         options=method_options(method, self.config), fraction=fraction,
                         score=self.charged_score(method))

    def select_spec(self, method: str, fraction: float) -> SelectSpec:
        return SelectSpec(base_method=base_method(method, self.config),
                          options=method_options(method, self.config), fraction=fraction)
