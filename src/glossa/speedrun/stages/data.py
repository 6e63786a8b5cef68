"""Stage 4: the data pipeline (§13) over the plays, cut into scenes, tokenized with the run's own BPE.

A split by whole document would give 38 plays to three splits — too few to hold any back — so this stage
writes each scene as one JSONL record (the play's title, genre, licence and consent as metadata) and runs
`glossa.data.pipeline.prepare` on that file exactly as `glossa data prepare` would: cleaning, filters, exact
and near deduplication, PII redaction, a stable split by content hash (90/5/5 here), and token shards written
on every core. The data card's counts and the split sizes go into the report; the shard paths go to the
training stage.
"""

from __future__ import annotations

import json
import shutil

import regex

from glossa.atomic import atomic_write_text
from glossa.data.config import load_config
from glossa.data.pipeline import prepare
from glossa.speedrun.frame import ReportSection, Run

SCENE_START = regex.compile(r"(?m)^(?=SCENE |PROLOGUE|EPILOGUE)")
SPLIT_FRACTIONS = {"train": 0.9, "validation": 0.05, "test": 0.05}


def scene_records(documents) -> list[dict]:
    """One record per scene (the text before the first scene heading stays with the first scene)."""
    records = []
    for document in documents:
        parts = [part for part in SCENE_START.split(document.text) if part.strip()]
        if len(parts) > 1 and not parts[0].lstrip().startswith(("SCENE", "PROLOGUE", "EPILOGUE")):
            parts = [parts[0] + parts[1], *parts[2:]]
        for number, part in enumerate(parts, start=1):
            records.append(
                {
                    "text": part,
                    "play": document.title,
                    "genre": document.genre,
                    "scene": number,
                    "licence": "public-domain",
                    "consent": "not-required",
                }
            )
    return records


def prepare_data(run: Run) -> ReportSection:
    records = scene_records(run.artifacts["documents"])
    raw_path = run.run_dir / "data" / "raw" / "scenes.jsonl"
    atomic_write_text(raw_path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    tokenizer_path = run.artifacts["tokenizer_path"]
    overrides = [f"split.{name}={fraction}" for name, fraction in SPLIT_FRACTIONS.items()]
    overrides += [f"output.tokenizer={json.dumps(str(tokenizer_path))}", "output.parquet=false"]
    config = load_config(None, overrides)
    prepared_dir = run.run_dir / "data" / "prepared"
    run.status("cleaning, deduplicating, tokenizing")
    result = prepare([str(raw_path)], prepared_dir, config, overwrite=True)
    card = result.card
    run.artifacts["shards"] = {split: [str(p) for p in paths] for split, paths in result.shards.items()}
    zipf_plot = run.plot_path("data_zipf")
    zipf_plot.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(prepared_dir / "zipf.png", zipf_plot)

    accounting, splits = card["accounting"], card["splits"]
    stage_rows = [
        f"| {s['name']} | {s['in']:,} | {s['kept']:,} | {s['changed']:,} "
        f"| {', '.join(f'{k} {v}' for k, v in s['dropped'].items()) or '—'} |"
        for s in card["stages"]
    ]
    split_rows = [f"| {name} | {v['documents']:,} | {v['tokens']:,} |" for name, v in splits.items()]
    body = "\n".join(
        [
            f"The {len(run.artifacts['documents'])} plays cut into {len(records):,} scenes, each a JSONL "
            "record with its play, genre, licence and consent, then `glossa data prepare` on that file "
            f"with the run's tokenizer. Input {accounting['input']:,} = kept {accounting['kept']:,} + "
            f"dropped {accounting['dropped']:,} + quarantined {accounting['quarantined']:,}.",
            "",
            "| stage | in | kept | changed | dropped (why) |",
            "|---|---:|---:|---:|---|",
            *stage_rows,
            "",
            "| split | scenes | tokens |",
            "|---|---:|---:|",
            *split_rows,
            "",
            f"Languages: {', '.join(f'{k} {v}' for k, v in card['languages'].items())}. The data card is "
            f"`{(prepared_dir / 'data_card.md').relative_to(run.run_dir)}`.",
        ]
    )
    return ReportSection(
        "Data pipeline: scenes to token shards",
        body,
        plots=[zipf_plot],
        metrics={
            "scenes": len(records),
            "kept": accounting["kept"],
            **{f"{name}_tokens": v["tokens"] for name, v in splits.items()},
        },
    )
