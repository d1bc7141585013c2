"""A tiny chat model built from nothing: a byte-level BPE tokenizer trained on
synthetic text and a random-weight Llama, saved as a Hugging Face folder.

Used by the tests (the fixtures in tests/conftest.py, the sweep test) and by the benchmarks in bench/.
Nothing is downloaded. Wide random weights (initializer_range 0.5) make the
logits decisive, so greedy outputs vary with the prompt and are not decided
by float rounding: batched and single runs, or two engines, can be compared
exactly.
"""

from __future__ import annotations

import importlib
import random
from pathlib import Path
from typing import Any

# ChatML, as many instruct models use it: accepts a system turn.
CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
# Like Gemma's and Mistral-Instruct's: a system turn makes the template raise.
NO_SYSTEM = (
    "{% for m in messages %}{% if m['role'] == 'system' %}"
    "{{ raise_exception('System role not supported') }}{% endif %}"
    "<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

WORDS = (
    "patient admitted with chest pain fever cough dyspnea sepsis pneumonia heart failure kidney injury "
    "creatinine troponin lactate antibiotics discharged home follow up clinic sentence entailment neutral "
    "contradiction question summary diagnosis history denies reports normal elevated blood pressure the a of "
    "and to in was is for on with no yes what how why should doctor medicine dose tablet"
).split()


def corpus(lines: int = 400, seed: int = 7) -> list[str]:
    rnd = random.Random(seed)
    text = [" ".join(rnd.choice(WORDS) for _ in range(rnd.randint(5, 25))) for _ in range(lines)]
    # Digits, capitals and punctuation appear in clinical text and prompts.
    text += ["Sentence 1: WBC 18.2, lactate 4.1 (89%). Sentence 2: ENTAILMENT? NEUTRAL! CONTRADICTION."] * 5
    return text


def build_tokenizer(chat_template: str | None, max_length: int = 256):
    tokenizers = importlib.import_module("tokenizers")
    transformers = importlib.import_module("transformers")
    from tokenizers import decoders, models, pre_tokenizers, trainers

    tok = tokenizers.Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=512, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(corpus(), trainer=trainer)
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>", model_max_length=max_length
    )
    if chat_template is not None:
        fast.chat_template = chat_template
    return fast


def build_model_folder(
    folder: Path,
    chat_template: str | None,
    *,
    max_positions: int = 256,
    seed: int = 0,
    layers: int = 2,
    config: dict[str, Any] | None = None,
    dtype: str = "float32",
    device: str = "cpu",
) -> Path:
    """Save a tokenizer + random Llama (hidden 128, 2 heads: head_dim 64, as vLLM's CPU kernels need).

    ``config`` replaces any of the Llama settings (the GPU benchmark gives a
    real 1B architecture); the vocabulary is never smaller than the tokenizer's.
    """
    torch = importlib.import_module("torch")
    transformers = importlib.import_module("transformers")
    tokenizer = build_tokenizer(chat_template, max_positions)
    settings: dict[str, Any] = dict(
        vocab_size=len(tokenizer),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=layers,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=max_positions,
        # Wide random weights make the logits decisive, so greedy outputs vary
        # with the prompt and are not decided by float rounding.
        initializer_range=0.5,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    settings.update(config or {})
    settings["vocab_size"] = max(settings["vocab_size"], len(tokenizer))
    torch.manual_seed(seed)
    with torch.device(device):  # a 1B model initialises in seconds on a GPU, minutes on a CPU
        model = transformers.LlamaForCausalLM(transformers.LlamaConfig(**settings)).to(getattr(torch, dtype))
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
