"""The compiled lid.176 prediction against fastText's own: the same language and the same probability, bit
for bit, for 30,000 generated texts in many scripts, with the tokens fastText treats specially (its label
prefix, NUL, words in and out of its vocabulary), texts longer than the 2,000 characters that decide, and
texts that are blank or blank where those characters end."""

from __future__ import annotations

import random

from refinery.transforms.kernels.language import lid176
from refinery.transforms.language import MAX_CHARS, detect

SENTENCES = [
    "The committee will publish its report on the regional water supply next week.",
    "Le conseil municipal a voté le nouveau budget des bibliothèques mardi soir.",
    "Die Wanderwege im Nationalpark öffnen wieder, sobald der Schnee geschmolzen ist.",
    "El museo amplió su horario para recibir a más visitantes durante el verano.",
    "Il ponte è stato progettato per resistere a venti forti e a carichi pesanti.",
    "De gemeente plant nieuwe fietspaden langs de rivier in het centrum.",
    "Os agricultores relataram uma colheita menor por causa do verão seco.",
    "Komisja opublikuje raport o zaopatrzeniu w wodę w przyszłym tygodniu.",
    "Городской совет утвердил новый бюджет для публичных библиотек.",
    "新しい図書館は駅の近くにあり、毎日午後九時まで開いています。",
    "这座桥的设计可以承受强风和重型卡车的重量。",
    "أعلنت البلدية عن خطة جديدة لتوسيع الحدائق العامة في المدينة.",
    "नगर परिषद ने सार्वजनिक पुस्तकालयों के लिए नया बजट मंजूर किया।",
    "Το μουσείο επέκτεινε το ωράριό του για να δεχτεί περισσότερους επισκέπτες.",
    "Kommunen planerar nya cykelvägar längs floden genom centrum.",
    "Belediye meclisi halk kütüphaneleri için yeni bütçeyi onayladı.",
    "시의회는 공공 도서관을 위한 새 예산을 승인했습니다.",
]
NOISE = ["12.5%", "2026-11-25", "https://example.org/a?b=c", "__label__en", "__label__", "x\x00y", "😀", "#tag",
         "e\u0301", "(", ")", "—", "...", "ſ", "İ", "a_b", "\u200b", "</s>", "<html>", "&amp;"]  # fmt: skip
SPACES = [" ", " ", " ", "\n", "\n\n", "\t", "\u3000", "\xa0", "  ", "\x1c", "\u2028", "\x0b"]


def text(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.03:
        return rng.choice(["", " ", "\n\t", "\u3000"])
    if kind < 0.05:  # blank where the deciding characters end, words after
        return " " * rng.choice([MAX_CHARS - 1, MAX_CHARS, MAX_CHARS + 3]) + rng.choice(SENTENCES)
    parts = []
    for _ in range(rng.choice([1, 2, 3, 8, 30, 60])):
        piece = rng.choice(NOISE) if rng.random() < 0.1 else rng.choice(SENTENCES)
        if rng.random() < 0.3:  # a few words of it
            words = piece.split()
            start = rng.randrange(len(words))
            piece = " ".join(words[start : start + rng.randint(1, 4)])
        parts += [piece, rng.choice(SPACES)]
    return "".join(parts)


def test_the_kernel_predicts_what_fasttext_predicts():
    rng = random.Random("language-kernel")
    texts = [text(rng) for _ in range(30_000)]
    got = lid176().detect(texts, MAX_CHARS)
    expected = [detect(t) for t in texts]
    differ = [i for i in range(len(texts)) if got[i] != expected[i]]
    assert not differ, [(texts[i][:60], got[i], expected[i]) for i in differ[:3]]
    assert len({lang for lang, _ in expected}) >= 15
