"""The speedrun's stages in flow order. Each later capability (tokenizer, training, evaluation, quantization,
serving) adds its stage to this list."""

from glossa.speedrun.frame import Stage
from glossa.speedrun.stages.corpus import load_corpus
from glossa.speedrun.stages.data import prepare_data
from glossa.speedrun.stages.evaluate import evaluate_model
from glossa.speedrun.stages.pretrain import pretrain
from glossa.speedrun.stages.serve import serve_and_benchmark
from glossa.speedrun.stages.text_stats import text_statistics
from glossa.speedrun.stages.tokenizer import train_tokenizer

DEFAULT_STAGES: list[Stage] = [
    Stage("corpus", "Text input: the embedded corpus", load_corpus),
    Stage("text-stats", "Text statistics: bytes, code points, entropy, Zipf", text_statistics),
    Stage("tokenizer", "Tokenization: the run's BPE", train_tokenizer),
    Stage("data", "Data pipeline: scenes to token shards", prepare_data),
    Stage("pretrain", "Pretraining", pretrain),
    Stage("evaluate", "Evaluation: bits per byte and samples", evaluate_model),
    Stage("serve", "Serving: OpenAI-compatible API, benchmarked", serve_and_benchmark),
]
