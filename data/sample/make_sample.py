"""Generate the bundled sample raw lake `data/sample/web_text/` (deterministic: same seed, same bytes).

Run `python data/sample/make_sample.py` to rebuild it; it also writes MANIFEST.json with the planted counts
that tests reconcile against. Documents are composed from hand-written sentences in four languages.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import re
from pathlib import Path

OUT = Path(__file__).resolve().parent / "web_text"
EVAL_SET = Path(__file__).resolve().parent / "eval" / "reading_qa.jsonl"  # hand-written; publish decontaminates
SEED = 20261125

SENTENCES = {
    "en": [
        "The city council approved a new budget for public libraries on Tuesday evening.",
        "Fresh basil should be added at the very end so that its aroma survives the heat.",
        "Most hiking trails in the national park reopen in late spring once the snow has melted.",
        "The new firmware update improves battery life and fixes several connectivity problems.",
        "Historians still debate how the trade routes shaped the growth of medieval port towns.",
        "A sourdough starter needs regular feeding with flour and water to stay active.",
        "Researchers measured the water temperature at twelve stations along the coastline.",
        "If you plant tomatoes too early, a late frost can damage the young seedlings.",
        "The museum extended its opening hours to accommodate the growing number of visitors.",
        "Compilers translate source code into machine instructions that a processor can execute.",
        "Local farmers reported a smaller harvest this year because of the unusually dry summer.",
        "The bridge was designed to withstand strong winds and the weight of heavy trucks.",
        "Reading aloud to children every day helps them build vocabulary and confidence.",
        "The orchestra opened the season with a symphony that had not been performed in decades.",
        "Regular backups are the simplest protection against losing important files.",
        "Volunteers cleaned the riverbank and collected more than two hundred bags of litter.",
        "The recipe calls for two cups of flour, a pinch of salt and a spoonful of honey.",
        "Solar panels on the school roof now cover almost half of its electricity needs.",
        "The train to the coast leaves every hour and takes a little under two hours.",
        "Scientists believe the comet last passed close to the Earth several thousand years ago.",
        "A good night's sleep improves concentration, memory and overall mood.",
        "The software team moved its services to containers to simplify deployments.",
        "Bees play an essential role in pollinating fruit trees and many vegetables.",
        "The old lighthouse has been converted into a small museum about local fishing.",
    ],
    "de": [
        "Der Stadtrat hat am Dienstagabend einen neuen Haushalt für die öffentlichen Bibliotheken beschlossen.",
        "Frisches Basilikum sollte erst ganz zum Schluss hinzugefügt werden, damit das Aroma erhalten bleibt.",
        "Die meisten Wanderwege im Nationalpark öffnen im späten Frühjahr, sobald der Schnee geschmolzen ist.",
        "Das neue Software-Update verlängert die Akkulaufzeit und behebt mehrere Verbindungsprobleme.",
        "Historiker diskutieren bis heute, wie die Handelswege das Wachstum mittelalterlicher Hafenstädte prägten.",
        "Ein Sauerteig muss regelmäßig mit Mehl und Wasser gefüttert werden, damit er aktiv bleibt.",
        "Die Forscher haben die Wassertemperatur an zwölf Messstationen entlang der Küste gemessen.",
        "Wer Tomaten zu früh pflanzt, riskiert, dass ein später Frost die jungen Pflanzen schädigt.",
        "Das Museum hat seine Öffnungszeiten verlängert, weil immer mehr Besucher kommen.",
        "Die Landwirte berichten wegen des ungewöhnlich trockenen Sommers von einer kleineren Ernte.",
        "Die Brücke wurde so geplant, dass sie starkem Wind und schweren Lastwagen standhält.",
        "Tägliches Vorlesen hilft Kindern, ihren Wortschatz und ihr Selbstvertrauen aufzubauen.",
        "Regelmäßige Sicherungskopien sind der einfachste Schutz vor dem Verlust wichtiger Dateien.",
        "Freiwillige haben das Flussufer gereinigt und mehr als zweihundert Säcke Müll gesammelt.",
        "Solarmodule auf dem Schuldach decken inzwischen fast die Hälfte des Strombedarfs.",
        "Der Zug an die Küste fährt stündlich und braucht knapp zwei Stunden.",
        "Ausreichend Schlaf verbessert die Konzentration, das Gedächtnis und die Stimmung.",
        "Bienen spielen eine wichtige Rolle bei der Bestäubung von Obstbäumen und vielen Gemüsesorten.",
        "Der alte Leuchtturm wurde in ein kleines Museum über die örtliche Fischerei umgebaut.",
        "Im Winter lohnt es sich, die Heizung nachts um ein paar Grad abzusenken.",
    ],
    "fr": [
        "Le conseil municipal a adopté mardi soir un nouveau budget pour les bibliothèques publiques.",
        "Le basilic frais doit être ajouté à la toute fin pour que son arôme résiste à la chaleur.",
        "La plupart des sentiers du parc national rouvrent à la fin du printemps, une fois la neige fondue.",
        "La nouvelle mise à jour améliore l'autonomie de la batterie et corrige plusieurs problèmes de connexion.",
        "Les historiens débattent encore de la manière dont les routes commerciales ont façonné les ports médiévaux.",
        "Un levain doit être nourri régulièrement avec de la farine et de l'eau pour rester actif.",
        "Les chercheurs ont mesuré la température de l'eau à douze stations le long de la côte.",
        "Le musée a prolongé ses horaires d'ouverture pour accueillir un nombre croissant de visiteurs.",
        "Les agriculteurs signalent une récolte plus faible cette année à cause d'un été particulièrement sec.",
        "Lire à voix haute aux enfants chaque jour les aide à enrichir leur vocabulaire.",
        "Des bénévoles ont nettoyé les berges de la rivière et ramassé plus de deux cents sacs de déchets.",
        "Les panneaux solaires installés sur le toit de l'école couvrent près de la moitié de ses besoins.",
        "Le train pour la côte part toutes les heures et met un peu moins de deux heures.",
        "Un bon sommeil améliore la concentration, la mémoire et l'humeur.",
        "Les abeilles jouent un rôle essentiel dans la pollinisation des arbres fruitiers.",
        "L'ancien phare a été transformé en un petit musée consacré à la pêche locale.",
        "La recette demande deux tasses de farine, une pincée de sel et une cuillerée de miel.",
        "L'orchestre a ouvert la saison avec une symphonie qui n'avait pas été jouée depuis des décennies.",
    ],
    "es": [
        "El ayuntamiento aprobó el martes por la noche un nuevo presupuesto para las bibliotecas públicas.",
        "La albahaca fresca debe añadirse al final para que su aroma resista el calor.",
        "La mayoría de los senderos del parque nacional reabren a finales de la primavera.",
        "La nueva actualización mejora la duración de la batería y corrige varios problemas de conexión.",
        "Los historiadores todavía debaten cómo las rutas comerciales moldearon los puertos medievales.",
        "Los investigadores midieron la temperatura del agua en doce estaciones a lo largo de la costa.",
        "El museo amplió su horario para recibir a un número creciente de visitantes.",
        "Los agricultores informaron de una cosecha menor este año debido al verano tan seco.",
        "Leer en voz alta a los niños todos los días les ayuda a ampliar su vocabulario.",
        "Los voluntarios limpiaron la orilla del río y recogieron más de doscientas bolsas de basura.",
        "Los paneles solares del tejado de la escuela cubren casi la mitad de su consumo eléctrico.",
        "El tren a la costa sale cada hora y tarda un poco menos de dos horas.",
        "Dormir bien mejora la concentración, la memoria y el estado de ánimo.",
        "Las abejas desempeñan un papel esencial en la polinización de los árboles frutales.",
        "El antiguo faro se ha convertido en un pequeño museo sobre la pesca local.",
        "La receta lleva dos tazas de harina, una pizca de sal y una cucharada de miel.",
    ],
}
HOSTS = {
    "en": [
        "dailyherald.example.com",
        "kitchenjournal.example.org",
        "www.techweekly.example.net",
        "trailnotes.example.com",
    ],
    "de": ["www.stadtanzeiger.example.de", "gartenblog.example.de", "technik-heute.example.de"],
    "fr": ["www.lequotidien.example.fr", "cuisine-maison.example.fr"],
    "es": ["www.eldiario.example.es", "recetas.example.es"],
}
BASE_DOCS = {"en": 120, "de": 50, "fr": 40, "es": 30}
SPAM_LINES = [
    "BUY CHEAP WATCHES NOW!!! Best prices guaranteed, click here to order today.",
    "We use cookies to improve your experience. Accept all cookies to continue browsing this site.",
    "Win a free phone!!! Limited offer, click the link below and enter your details now.",
    "Home | About us | Contact | Privacy policy | Terms of use | Sitemap | Newsletter signup",
]
SHORT_DOCS = [
    "Click here.",
    "Page not found",
    "Loading...",
    "404",
    "Read more",
    "OK thanks!",
    "Subscribe now",
    "Next page",
    "Hello world",
    "Sign in",
    "Menu",
    "Share this",
]
PII_TEMPLATES = [
    "For questions about the order, write to {email} or call {phone} during office hours.",
    "Für Rückfragen erreichen Sie mich unter {email} oder telefonisch unter {phone}.",
    "Pour toute question, écrivez à {email} ou appelez le {phone} en semaine.",
    "Para más información escriba a {email} o llame al {phone} de lunes a viernes.",
]
PII_LANG = ["en", "de", "fr", "es"]
NAMES = ["anna.schmidt", "j.doe", "maria.garcia", "pierre.martin", "li.wei", "sam_okafor", "lena.k", "tom.berg"]
PHONES = [
    "+1 415 555 0132",
    "+49 30 1234567",
    "+33 1 42 68 53 00",
    "+34 912 345 678",
    "(415) 555-0199",
    "212-555-0147",
    "+44 20 7946 0958",
    "+31 20 123 4567",
]


def main() -> None:
    rng = random.Random(SEED)
    seen: set[str] = set()
    docs: list[dict] = []
    counts: dict[str, int] = {}
    curate_rejected: list[str] = []  # spam and very short documents: the quality filters drop them

    def unique_body(lang: str) -> str:
        while True:
            k = rng.randint(6, 10)  # enough sentences and words for the C4 and Gopher filters
            sentences = rng.sample(SENTENCES[lang], k)
            cut = rng.randint(1, k - 1)
            body = " ".join(sentences[:cut]) + "\n\n" + " ".join(sentences[cut:])
            if canonical(body) not in seen:
                seen.add(canonical(body))
                return body

    def add(kind: str, record: dict) -> dict:
        counts[kind] = counts.get(kind, 0) + 1
        docs.append(record)
        return record

    n = 0
    for lang, how_many in BASE_DOCS.items():
        for _ in range(how_many):
            n += 1
            host = rng.choice(HOSTS[lang])
            add(
                "clean",
                {
                    "id": f"doc-{n:05d}",
                    "text": unique_body(lang),
                    "url": f"https://{host}/article/{n}",
                    "meta": {"lang": lang, "crawl": "2026-10"},
                },
            )
    for i in range(12):
        lang = PII_LANG[i % 4]
        n += 1
        body = unique_body(lang)
        html = (
            f"<html><head><title>Article {n}</title></head><body><nav>Home | News | Contact</nav>"
            f"<article><p>{body.replace(chr(10) + chr(10), '</p><p>')}</p></article>"
            f"<footer>&copy; 2026 Example Media</footer></body></html>"
        )
        add(
            "html",
            {
                "id": f"doc-{n:05d}",
                "text": html,
                "url": f"https://{rng.choice(HOSTS[lang])}/page/{n}",
                "meta": {"lang": lang, "content_type": "text/html"},
            },
        )
    for i in range(20):
        lang = PII_LANG[i % 4]
        n += 1
        sentence = PII_TEMPLATES[i % 4].format(email=f"{NAMES[i % 8]}@mail{i}.example.com", phone=PHONES[i % 8])
        body = unique_body(lang) + "\n\n" + sentence
        add(
            "pii",
            {
                "id": f"doc-{n:05d}",
                "text": body,
                "url": f"https://{rng.choice(HOSTS[lang])}/contact/{n}",
                "meta": {"lang": lang},
            },
        )
    for i in range(10):
        n += 1
        lines = [SPAM_LINES[(i + j) % len(SPAM_LINES)] for j in range(rng.randint(3, 6))] * 3
        curate_rejected.append(f"doc-{n:05d}")
        add(
            "spam",
            {
                "id": f"doc-{n:05d}",
                "text": "\n".join(lines) + f"\nOffer code {i:03d}.",
                "url": f"http://spam{i}.example.biz/offer",
                "meta": {"lang": "en"},
            },
        )
    for i, text in enumerate(SHORT_DOCS):
        n += 1
        curate_rejected.append(f"doc-{n:05d}")
        add(
            "short",
            {
                "id": f"doc-{n:05d}",
                "text": text,
                "url": f"https://trailnotes.example.com/s/{i}",
                "meta": {"lang": "en"},
            },
        )
    originals = [d for d in docs if d["id"] <= "doc-00240"]
    for i, original in enumerate(rng.sample(originals, 15)):
        n += 1
        add("exact_duplicate", {**original, "id": f"doc-{n:05d}", "url": original["url"] + f"?ref=mirror{i}"})
    for original in rng.sample(originals, 5):
        n += 1
        spaced = "  " + original["text"].replace(" ", "   ").replace("\n\n", "\n\n\n\n") + "  \n"
        add("whitespace_duplicate", {**original, "id": f"doc-{n:05d}", "text": spaced})
    near_duplicates: list[str] = []  # one word repeated mid-text: word 5-gram Jaccard about 0.9 with the original
    plain_text = [d for d in originals if not d["text"].startswith("<html")]  # an edit in markup could vanish
    for original in rng.sample(plain_text, 10):
        n += 1
        words = original["text"].split(" ")
        middle = len(words) // 2
        while "\n" in words[middle]:  # repeat a word inside a line (C4 would drop a new two-word line)
            middle += 1
        text = " ".join(words[:middle] + [words[middle]] + words[middle:])
        assert canonical(text) not in seen, "a near duplicate must not be an exact one"
        seen.add(canonical(text))
        near_duplicates.append(f"doc-{n:05d}")
        add("near_duplicate", {**original, "id": f"doc-{n:05d}", "text": text})
    contaminated: list[str] = []  # articles quoting a passage of the eval set verbatim: publish drops them
    eval_items = [json.loads(line) for line in EVAL_SET.read_text(encoding="utf-8").splitlines()]
    for item in (eval_items[0], eval_items[4], eval_items[9]):
        n += 1
        contaminated.append(f"doc-{n:05d}")
        add(
            "eval_contaminated",
            {
                "id": f"doc-{n:05d}",
                "text": unique_body("en") + "\n\n" + item["context"],
                "url": f"https://{rng.choice(HOSTS['en'])}/quiz/{n}",
                "meta": {"lang": "en"},
            },
        )
    forum_docs = []
    for i in range(16):
        lang = PII_LANG[i % 4]
        forum_docs.append({"text": unique_body(lang), "source": "forum", "meta": {"lang": lang, "thread": str(i)}})
    counts["forum_without_id"] = len(forum_docs)

    malformed = {
        "malformed_json": [
            '{"id": "bad-1", "text": "unterminated string}',
            '{"id": "bad-2", text: no quotes}',
            '{"id": "bad-3", "text": "trailing comma",}',
            "this line is not json at all",
            '{"id": "bad-4", "text": "write to ops.desk@corp.example.com or +1 415 555 0100" oops}',
        ],
        "missing_field:text": [
            '{"id": "bad-5", "url": "https://x.example.com"}',
            '{"id": "bad-6", "text": null}',
            '{"id": "bad-7", "body": "text under the wrong key"}',
        ],
        "wrong_type:text": ['{"id": "bad-8", "text": 12345}', '{"id": "bad-9", "text": ["a", "list"]}'],
        "wrong_type:meta": ['{"id": "bad-10", "text": "Meta should be an object, not a string.", "meta": "en"}'],
        "wrong_type:url": ['{"id": "bad-11", "text": "The url field holds a number here.", "url": 42}'],
        "not_an_object": ['["an", "array", "instead", "of", "an", "object"]'],
        "empty_line": ["", "   "],
    }
    counts.update({f"ingest_reject:{rule}": len(lines) for rule, lines in malformed.items()})

    rng.shuffle(docs)
    files = {"web-2026-10-01.jsonl": docs[: len(docs) // 2], "web-2026-10-02.jsonl": docs[len(docs) // 2 :]}
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.jsonl*"):
        old.unlink()
    for name, records in files.items():
        lines = [json.dumps(r, ensure_ascii=False) for r in records]
        (OUT / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    bad_lines = [line for lines in malformed.values() for line in lines]
    mixed = [json.dumps(d, ensure_ascii=False) for d in forum_docs[:8]] + bad_lines
    rng.shuffle(mixed)
    (OUT / "mixed-quality.jsonl").write_text("\r\n".join(mixed) + "\r\n", encoding="utf-8")
    forum = "\n".join(json.dumps(d, ensure_ascii=False) for d in forum_docs[8:]) + "\n"
    (OUT / "forum.jsonl.gz").write_bytes(gzip.compress(forum.encode(), mtime=0))

    ingest_rejects = sum(len(v) for v in malformed.values())
    total = len(docs) + len(forum_docs) + ingest_rejects
    manifest = {
        "seed": SEED,
        "files": sorted(p.name for p in OUT.glob("*.jsonl*")),
        "planted": dict(sorted(counts.items())),
        "expected": {
            "raw_lines": total,
            "ingest_rejected": ingest_rejects,
            "bronze": total - ingest_rejects,
            "curate_rejected": len(curate_rejected),
            "curate_rejected_ids": sorted(curate_rejected),
            "silver": total - ingest_rejects - len(curate_rejected),
            "dedup_rejected": {
                "exact": counts["exact_duplicate"] + counts["whitespace_duplicate"],
                "minhash": counts["near_duplicate"],
            },
            "near_duplicate_ids": sorted(near_duplicates),
            "gold": total
            - ingest_rejects
            - len(curate_rejected)
            - counts["exact_duplicate"]
            - counts["whitespace_duplicate"]
            - counts["near_duplicate"]
            - len(contaminated),
            "pii": {"email": 20, "phone": 20},
            "publish_rejected": {"decontamination": len(contaminated)},
            "contaminated_ids": contaminated,
        },
    }
    (OUT / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps(manifest["expected"]))


def canonical(text: str) -> str:
    return hashlib.sha256(re.sub(r"\s+", " ", text.strip().lower()).encode()).hexdigest()


if __name__ == "__main__":
    main()
