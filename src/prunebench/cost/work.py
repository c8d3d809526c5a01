"""Every job's counted work, computed ahead from the plan: the numbers a finished run records.

A training job records `steps`, `examples_seen` (examples forwarded and back-propagated by its
optimizer steps) and `counts.selection_forward_examples` / `selection_backward_examples`; a
proxy run records `steps` and `examples_seen`. The same numbers follow from the spec before any
job runs: the step plan of the budget protocol (`train.budget`), the passes a sampler takes
over its examples, the epochs at which a selection or a score is taken. Evaluation forwards the
whole test set after every epoch; a proxy's scores forward the training set at each epoch a
score is taken (one pass shared by the scores that read logits or features) and back-propagate
it one example at a time for GraNd.

`exact` says whether every count is known ahead. Two kinds of method decide their work as they
go, and their counts are estimates: CREST (how many checks fail, and so how many selections,
depends on the loss landscape) and InfoBatch (how many examples it skips depends on the
losses). Torch-free.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .. import paths
from ..methods import TRAINED_SCORES, base_method, method_entry, method_options
from ..paths import fraction_label
from ..plan import ExperimentPlan, Run
from ..proxies import DEFAULT_PROXY
from ..train.budget import budget_size, plan_steps
from .facts import DatasetFacts, dataset_facts

# rules whose jobs do no counted work (no model passes); priced per job (`throughput`)
SMALL_RULES = ("prepare_dataset", "prepare_noisy_dataset", "mean_scores", "select_subset",
               "aggregate", "report")
# scores that read the epoch's shared eval pass (logits or penultimate features)
SHARED_PASS_SCORES = {"el2n", "el2n_sum", "grand_last", "uncertainty_entropy",
                      "uncertainty_margin", "uncertainty_lc", "embeddings"}
PER_EXAMPLE_GRADIENT_SCORES = {"grand", "grand_init"}  # forward + backward one at a time
# what CREST's estimate assumes (docs/performance.md: 33 of 517 checks failed at 20 epochs)
CREST_FAILED_CHECKS = 0.1


@dataclass(frozen=True)
class JobWork:
    rule: str
    name: str  # the job's wildcards as a path, e.g. mnist1d/el2n/f0.5/seed0
    dataset: str
    model: str
    output: str  # the file that records the job's own numbers (metrics.json), or its output
    benchmark: str  # Snakemake's benchmark TSV of the job
    steps: int = 0
    train_examples: int = 0  # forwarded and back-propagated in optimizer steps
    eval_examples: int = 0  # test examples evaluated
    selection_forward: int = 0
    selection_backward: int = 0
    scoring_forward: int = 0  # a proxy's shared eval passes over the training set
    scoring_gradients: int = 0  # a proxy's per-example gradients (GraNd)
    selections: int = 0  # a dynamic method's selections (periodic methods, CREST)
    exact: bool = True

    def counts(self) -> dict[str, int]:
        """The counts a finished run records, under the names of its metrics.json."""
        if self.rule == "train":
            return {"steps": self.steps, "examples_seen": self.train_examples,
                    "selection_forward_examples": self.selection_forward,
                    "selection_backward_examples": self.selection_backward}
        if self.rule == "train_proxy":
            return {"steps": self.steps, "examples_seen": self.train_examples}
        return {}


BENCHMARKS = {"aggregate": paths.AGGREGATE_BENCHMARK, "report": paths.REPORT_BENCHMARK}


def run_benchmark(plan: ExperimentPlan, template: str, run: Run) -> str:
    return paths.fill(template, experiment=plan.experiment, dataset=run.dataset,
                      method=run.method, fraction=fraction_label(run.fraction), seed=run.seed)


def proxy_benchmark(plan: ExperimentPlan, dataset: str, seed: int,
                    name: str = DEFAULT_PROXY, template: str = paths.PROXY_BENCHMARK,
                    **fields) -> str:
    return paths.fill(template, data=plan.data_key(dataset),
                      model=plan.proxy_model(dataset, name), proxy=plan.proxy_key(dataset, name),
                      seed=seed, **fields)


def score_benchmark(plan: ExperimentPlan, dataset: str, score: str,
                    name: str = DEFAULT_PROXY) -> str:
    return paths.fill(paths.MEAN_SCORES_BENCHMARK, data=plan.data_key(dataset),
                      model=plan.proxy_model(dataset, name), proxy=plan.proxy_key(dataset, name),
                      proxy_seeds=plan.proxy_seeds(name), score=score)


def pass_examples(n: int, batch_size: int, steps: int) -> int:
    """Examples drawn by `steps` batches of shuffled passes over `n` examples, each pass ending
    in one smaller batch and the next starting at once (`train.passes.WeightedPasses`)."""
    per_pass = math.ceil(n / batch_size)
    full, rest = divmod(steps, per_pass)
    return full * n + rest * batch_size


def facts_of(plan: ExperimentPlan, dataset: str) -> DatasetFacts | None:
    return dataset_facts(plan.loader(dataset), plan.datasets[dataset].get("options", {}))


def train_work(plan: ExperimentPlan, run: Run, facts: DatasetFacts) -> JobWork:
    """One training run (`prunebench train`)."""
    settings = plan.training(run.dataset)
    entry = method_entry(run.method, plan.config)
    batch, epochs, n = settings.batch_size, settings.epochs, facts.n_train
    used = n if entry.kind == "reference" else budget_size(n, run.fraction)
    steps = plan_steps(protocol=plan.config["protocol"], kind=entry.kind, n_train=n,
                       n_used=used, batch_size=batch, epochs=epochs)
    work = dict(steps=steps.total_steps, eval_examples=epochs * facts.n_test)
    name = f"{run.dataset}/{run.method}/f{fraction_label(run.fraction)}/seed{run.seed}"
    base = base_method(run.method, plan.config)
    options = method_options(run.method, plan.config)
    if entry.kind != "dynamic":
        work["train_examples"] = pass_examples(used, batch, steps.total_steps)
    elif base == "crest":
        work.update(crest_work(options, facts, batch, steps.steps_per_epoch, steps.total_steps))
    elif base == "infobatch":
        # an upper bound: every example every epoch; InfoBatch skips some as it goes
        work.update(train_examples=steps.epochs * used, exact=False)
    else:
        # a fresh selection of f*N (or a slice of the permutation) every epoch or interval:
        # each epoch is one pass over it
        work["train_examples"] = steps.epochs * used
        interval = options.get("interval")
        if interval:  # a periodic method: one forward of every example per selection
            selections = len(range(1, epochs + 1, int(interval)))
            work.update(selection_forward=selections * n, selections=selections)
    return JobWork("train", name, run.dataset, plan.model(run.dataset),
                   f"{plan.run_dir(run)}/metrics.json",
                   run_benchmark(plan, paths.TRAIN_BENCHMARK, run), **work)


def crest_work(options: dict, facts: DatasetFacts, batch: int, steps_per_epoch: int,
               total_steps: int) -> dict:
    """CREST's work, estimated: a warm-up epoch of ordinary steps, then a check (a forward of
    the m random subsets) every `check_interval` steps, a share CREST_FAILED_CHECKS of them
    failing into a new selection (the subsets forwarded, the coresets forwarded and
    back-propagated 1 + hessian_probes times); every training batch is a coreset of B."""
    r = options.get("subset_size", 0.01)
    r = r * facts.n_train if r < 1 else r
    per_class = math.ceil(r / facts.num_classes)
    union = per_class * facts.num_classes * options.get("num_subsets", 1)
    core = math.ceil(batch / facts.num_classes) * facts.num_classes * options.get(
        "num_subsets", 1)
    warmup = steps_per_epoch if options.get("warmup", True) else 0
    checks = (total_steps - warmup) // max(1, options.get("check_interval", 1))
    selections = 1 + round(CREST_FAILED_CHECKS * checks)
    probes = options.get("hessian_probes", 1)
    return {"train_examples": total_steps * batch, "selections": selections,
            "selection_forward": checks * union + selections * (union + core),
            "selection_backward": selections * core * (1 + probes), "exact": False}


def proxy_work(plan: ExperimentPlan, dataset: str, seed: int, facts: DatasetFacts,
               name: str = DEFAULT_PROXY) -> JobWork:
    """One proxy run: `proxy.epochs` epochs of its recipe's steps, the scores it computes while
    training (TRAINED_SCORES) on the way; its own model and recipe (a named proxy's)."""
    settings, proxy = plan.proxy_spec(dataset, name).training, plan.proxy_settings(name)
    steps = proxy["epochs"] * math.ceil(facts.n_train / settings.batch_size)
    shared, gradients = set(), set()
    for score in TRAINED_SCORES:
        at = {"grand_init": 0, "input_norm": 0, "forgetting": None}.get(score,
                                                                         proxy["score_epoch"])
        if score in SHARED_PASS_SCORES:
            shared.add(at)
            if score == "el2n_sum":
                shared |= set(range(1, proxy["score_epoch"]))
        elif score in PER_EXAMPLE_GRADIENT_SCORES:
            gradients.add(at)
    model = plan.proxy_model(dataset, name)
    return JobWork("train_proxy", f"{plan.data_key(dataset)}/{model}/seed{seed}",
                   dataset, model, f"{plan.proxy_dir(dataset, seed, name)}/metrics.json",
                   proxy_benchmark(plan, dataset, seed, name), steps=steps,
                   train_examples=pass_examples(facts.n_train, settings.batch_size, steps),
                   eval_examples=proxy["epochs"] * facts.n_test,
                   scoring_forward=len(shared) * facts.n_train,
                   scoring_gradients=len(gradients) * facts.n_train)


def state_score_work(plan: ExperimentPlan, dataset: str, seed: int, facts: DatasetFacts,
                     name: str = DEFAULT_PROXY) -> list[JobWork]:
    """The `score_proxy` jobs of one proxy run: each score outside TRAINED_SCORES is one eval
    pass over the training set from a saved state."""
    model, folder = plan.proxy_model(dataset, name), plan.proxy_dir(dataset, seed, name)
    return [JobWork("score_proxy", f"{plan.data_key(dataset)}/{model}/seed{seed}/{array}",
                    dataset, model, f"{folder}/{array}.npy",
                    proxy_benchmark(plan, dataset, seed, name, paths.PROXY_SCORE_BENCHMARK,
                                    array=array), scoring_forward=facts.n_train)
            for array in plan.state_arrays()]


def small_jobs(plan: ExperimentPlan) -> list[JobWork]:
    """The jobs without model passes: prepare, mean scores, static selections, aggregate and
    report."""
    prepared = {plan.data_key(d): d for d in plan.datasets}  # entries may share a folder
    jobs = [JobWork("prepare_noisy_dataset" if plan.label_noise(d) else "prepare_dataset", key,
                    d, "", f"{plan.data_dir(d)}/meta.json",
                    paths.fill(paths.PREPARE_BENCHMARK, data=key))
            for key, d in prepared.items()]
    detection = {name: (lambda d: plan.detection_scores(d)) if name == DEFAULT_PROXY
                 else (lambda d: []) for name in plan.proxy_names()}
    jobs += [JobWork("mean_scores", f"{d}/{score}", d, plan.proxy_model(d, name),
                     plan.score_file(d, score, name), score_benchmark(plan, d, score, name))
             for name in plan.proxy_names() for d in plan.datasets
             for score in dict.fromkeys([*plan.produced_scores(name), *detection[name](d)])]
    jobs += [JobWork("select_subset", f"{r.dataset}/{r.method}/f{fraction_label(r.fraction)}"
                     f"/seed{r.seed}", r.dataset, plan.model(r.dataset), plan.subset_file(r),
                     run_benchmark(plan, paths.SELECT_BENCHMARK, r))
             for r in plan.runs() if method_entry(r.method, plan.config).kind == "static"]
    jobs += [JobWork(rule, plan.experiment, "", "", "",
                     paths.fill(BENCHMARKS[rule], experiment=plan.experiment))
             for rule in ("aggregate", "report")]
    return jobs


def experiment_work(plan: ExperimentPlan) -> tuple[list[JobWork], list[str]]:
    """Every job of the experiment's DAG with its work, and the datasets whose sizes cannot be
    known ahead (their training and proxy jobs are left out)."""
    jobs, unknown = small_jobs(plan), []
    facts = {d: facts_of(plan, d) for d in plan.datasets}
    unknown = [d for d, f in facts.items() if f is None]
    runs = [(d, name, seed) for d, name, seed in plan.proxy_runs() if facts[d]]
    jobs += [proxy_work(plan, d, seed, facts[d], name) for d, name, seed in runs]
    jobs += [job for d, name, seed in runs
             for job in state_score_work(plan, d, seed, facts[d], name)]
    jobs += [train_work(plan, run, facts[run.dataset]) for run in plan.runs()
             if facts[run.dataset]]
    return jobs, unknown

