"""Training (seed §11–13): one loop for pretraining that fine-tuning reuses.

config.py       `TrainConfig`: every setting of a run, from TOML/YAML, overridable with --key=value
optim.py        SGD, Adam/AdamW (decoupled weight decay groups), Muon (Newton–Schulz) — our own
schedules.py    learning-rate schedules as data: warmup then cosine/linear, constant, warmup-stable-decay
data.py         seeded random windows over token shards; its position is part of a checkpoint
checkpoint.py   one folder per checkpoint, written atomically; keep last N and the best; resume
evaluate.py     loss, perplexity and bits per byte
trainer.py      the loop: accumulation, clipping, mixed precision, early stopping, logs, plots
distributed.py  torchrun: DDP (or FSDP) over gloo/nccl
"""
