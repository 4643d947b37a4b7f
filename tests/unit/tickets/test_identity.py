"""Who consulted: party registry, party detection in text, phones, names, and `identify`."""
from __future__ import annotations

import random
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kpudesk.mailbox.message import Address, InboundMessage
from kpudesk.tickets import names as names_mod
from kpudesk.tickets.identity import IdentityGuess, identify
from kpudesk.tickets.names import extract_name
from kpudesk.tickets.parties import DEFAULT_PARTIES_PATH, PartyRegistry
from kpudesk.tickets.party_mentions import ascii_words
from kpudesk.tickets.party_records import RegistryError
from kpudesk.tickets.phones import extract_phones, normalize_phone
from kpudesk.tickets.quoting import strip_quoted
from kpudesk.tickets.text import Body

SEED = PartyRegistry.load()

EXTRA = """
[[party]]
number = 2
addresses = ["dpc.gerindra.mesuji@example.org", "@gelombang.example.org"]

[[party]]
short = "PKB"
addresses = ["Sekretariat.PKB@Example.ORG"]
aliases = ["Kebangkitan Bangsa"]

[[contact]]
email = "siti.aminah@example.net"
name = "Siti Aminah"
phone = "0812-1111-2222"
party = "Gelora"

[[contact]]
email = "anon@example.net"
"""


def msg(
    *,
    text: str = "",
    subject: str = "Konsultasi",
    from_email: str | None = "someone@example.net",
    from_name: str = "",
    reply_to: tuple[Address, ...] = (),
) -> InboundMessage:
    """An InboundMessage with dull defaults for everything identity does not read."""
    return InboundMessage(
        raw_sha256="0" * 64,
        size=len(text),
        fingerprint="f" * 64,
        message_id="<m1@example.net>",
        msgid="m1@example.net",
        in_reply_to=(),
        references=(),
        from_addr=Address(from_name, from_email) if from_email is not None else None,
        reply_to=reply_to,
        to=(Address("Helpdesk", "helpdesk@example.org"),),
        cc=(),
        subject=subject,
        date=datetime(2022, 8, 15, 2, 0, tzinfo=UTC),
        date_source="header",
        text=text,
        text_from_html=False,
        attachments=(),
        headers=(),
        content_type="text/plain",
        report=None,
        defects=(),
    )


@pytest.fixture()
def registry(tmp_path: Path) -> PartyRegistry:
    extra = tmp_path / "parties-extra.toml"
    extra.write_text(EXTRA)
    return PartyRegistry.load(DEFAULT_PARTIES_PATH, extra)


# -- registry ----------------------------------------------------------------------------


def test_seed_has_the_24_parties_of_2024():
    parties = SEED.parties
    assert [p.number for p in parties] == list(range(1, 25))
    assert SEED.get(12).short == "PAN"
    assert SEED.get("12").name == "Partai Amanat Nasional"
    assert SEED.get("pdip").number == 3
    assert SEED.get("Partai Ummat").number == 24
    assert SEED.get(21).local == "Aceh" and SEED.get(1).local is None
    assert SEED.get(99) is None and SEED.get("Partai Fiktif") is None


def test_extra_file_adds_addresses_aliases_and_contacts(registry):
    gerindra = registry.get("Gerindra")
    assert "dpc.gerindra.mesuji@example.org" in gerindra.addresses
    assert registry.by_address("DPC.Gerindra.Mesuji@example.org") is gerindra
    assert registry.by_address("<dpc.gerindra.mesuji@example.org>") is gerindra
    assert registry.by_address("sekretariat.pkb@example.org").short == "PKB"  # stored lower-case
    assert registry.by_address("anyone@gelombang.example.org") is gerindra  # domain entry
    assert registry.by_address("anyone@sub.gelombang.example.org") is None  # exact domain only
    assert registry.by_address("stranger@example.net") is None
    assert registry.get("Kebangkitan Bangsa").number == 1

    c = registry.contact("Siti.Aminah@Example.NET")
    assert c is not None and c.name == "Siti Aminah" and c.phone == "+6281211112222"
    assert c.party.short == "Gelora"
    assert registry.by_address("siti.aminah@example.net").short == "Gelora"  # contact implies party
    assert registry.contact("anon@example.net").party is None


@pytest.mark.parametrize(
    "extra, fragment",
    [
        ('[[party]]\nnumber = 99\naddresses = ["a@example.org"]', "no party with number 99"),
        ('[[party]]\nshort = "PKX"', "no party with short name 'PKX'"),
        ('[[party]]\nnumber = 1\nshort = "PAN"', "number 1 is 'PKB'"),
        ('[[party]]\nnumber = 1\naddresses = ["not-an-address"]', "not an email address"),
        ('[[party]]\nnumber = 1\naddresses = ["@gmail.com"]', "public mail service"),
        ('[[party]]\nnumber = 1\nadresses = ["a@example.org"]', "unknown key"),
        ('[[party]]\nnumber = 1\naddresses = ["a@example.org"]\n[[party]]\nnumber = 2\naddresses = ["a@example.org"]',
         "also listed for party"),
        ('[[party]]\nnumber = 1\naliases = ["Gerindra"]', r"'Gerindra' is also used by party 1 \(PKB\)"),
        ('[[contact]]\nemail = "x@example.org"\nparty = "Partai Fiktif"', "unknown party"),
        ('[[contact]]\nemail = "x@example.org"\nphone = "12345"', "not an Indonesian phone"),
        ('[[contact]]\nemail = "nope"', "'email' must be an email address"),
        ('[[contact]]\nemail = "x@example.org"\n[[contact]]\nemail = "X@example.org"', "listed twice"),
        ("[[party]\nnumber = 1", "not valid TOML"),
    ],
)
def test_bad_extra_file_names_the_entry(tmp_path, extra, fragment):
    path = tmp_path / "extra.toml"
    path.write_text(extra)
    with pytest.raises(RegistryError, match=fragment) as info:
        PartyRegistry.load(DEFAULT_PARTIES_PATH, path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_missing_file_is_a_registry_error(tmp_path):
    with pytest.raises(RegistryError, match="file not found"):
        PartyRegistry.load(tmp_path / "nope.toml")


def test_bad_seed_entry_is_named(tmp_path):
    seed = tmp_path / "seed.toml"
    seed.write_text('[[party]]\nnumber = 1\nname = "Partai A"\nshort = "PA1"\n[[party]]\nnumber = 1\n'
                    'name = "Partai B"\nshort = "PB1"\n')
    with pytest.raises(RegistryError, match=r"#2.*number 1 is used twice"):
        PartyRegistry.load(seed)
    seed.write_text('[[party]]\nnumber = 2\nshort = "X"\n')
    with pytest.raises(RegistryError, match=r"\[\[party\]\] #1 \(number 2\): 'name'"):
        PartyRegistry.load(seed)


# -- party in text -------------------------------------------------------------------------


def short_of(text: str) -> str | None:
    p = SEED.find_in_text(text)
    return p.short if p else None


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Kami dari DPC Partai Kebangkitan Bangsa Kabupaten Mesuji", "PKB"),
        ("Mohon informasi jadwal verifikasi faktual DPC PKB", "PKB"),
        ("Pertanyaan dari Partai Gerindra", "Gerindra"),
        ("Kendala unggah KTA, DPD Golkar Mesuji", "Golkar"),
        ("Kami LO PDIP Mesuji", "PDI Perjuangan"),
        ("Data keanggotaan PDI-P belum muncul", "PDI Perjuangan"),
        ("DPC PDI Perjuangan Kabupaten Mesuji", "PDI Perjuangan"),
        ("Partai Nasional Demokrat", "NasDem"),  # longest match, not "Demokrat"
        ("DPC Partai Demokrat Mesuji", "Demokrat"),
        ("Partai Buruh Exco Mesuji", "Partai Buruh"),
        ("sekretariat dpc pan mesuji", "PAN"),  # lower case is fine after DPC
        ("Pertanyaan PAN tentang KTA", "PAN"),
        ("kami dari partai gelora", "Gelora"),
        ("Kami dari Partai Kebangkitan Nusantara (PKN)", "PKN"),
        ("Laporan pergantian LO Partai Aceh", "PA"),
        ("Partai Adil Sejahtera Aceh", "PAS Aceh"),
        ("DPC Partai Ummat Kabupaten Mesuji", "Ummat"),
        ("Admin Sipol PSI", "PSI"),
    ],
)
def test_party_found_in_text(text, expected):
    assert short_of(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Mohon bantuan panitia, antrean panjang sekali",  # pan- inside words
        "Surat dari Kementerian PAN-RB",  # PAN-RB is a ministry
        "KemenPAN",
        "Kami ingin bertanya tentang buruh pabrik",  # "buruh" alone is not Partai Buruh
        "dengan gelora semangat kami daftar",  # ordinary word
        "Acara di Stadion Gelora Bung Karno",
        "lambang Garuda Pancasila",
        "Surat PA nomor 12",  # bare two-letter "PA"
        "pkb",  # lower-case short names under four letters do not count
        "Kami ingin tahu PKS atau PKB yang duluan",  # two parties, no self-identification
        "Anggota kami terdeteksi ganda dengan PKB",  # someone else's party
        "Email kami gerindra.mesuji@example.org",  # inside an address
        "Partai Demokrasi",  # not a party name
    ],
)
def test_no_false_positive(text):
    assert SEED.find_in_text(text) is None


def test_own_party_wins_over_other_parties_mentioned():
    text = ("Dengan hormat,\nKami dari DPC Partai Gelora Kabupaten Mesuji. Anggota kami terdeteksi "
            "ganda dengan Partai Kebangkitan Bangsa dan PAN.")
    assert short_of(text) == "Gelora"
    roles = {m.party.short: m.role for m in SEED.mentions(text)}
    assert roles == {"Gelora": "self", "PKB": "other", "PAN": "other"}


def test_signature_names_the_party():
    text = ("Mohon info jadwal verifikasi untuk PKS dan PAN di Mesuji.\n\n"
            "Salam,\nSiti Aminah\nPartai Gelora")
    assert short_of(text) == "Gelora"


def test_pkn_is_not_pkb_and_pas_aceh_is_not_pa():
    assert short_of("DPC PKN") == "PKN"
    assert short_of("DPC PAS Aceh") == "PAS Aceh"
    assert [m.party.short for m in SEED.mentions("PAS Aceh")] == ["PAS Aceh"]


# -- phones -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("HP: 0812-3456-7890", ["+6281234567890"]),
        ("WA +62 812 3456 7890", ["+6281234567890"]),
        ("hubungi 62812345678 ya", ["+62812345678"]),
        ("0812.3456.7890", ["+6281234567890"]),
        ("Telp. (0721) 123456", ["+62721123456"]),
        ("Kantor 0721-123456, HP 0813 1111 2222", ["+62721123456", "+6281311112222"]),
        ("+62 (0) 812 3456 7890", ["+6281234567890"]),
        ("No HP 081234567890 2 kali tidak aktif", ["+6281234567890"]),
        ("0812-3456-7890 / 0812 3456 7890", ["+6281234567890"]),  # unique
    ],
)
def test_phone_formats(text, expected):
    assert extract_phones(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "NIK 1811012345670001",  # NIK, Lampung
        "NIK: 6271031234560001",  # NIK starting with 62 (Kalimantan Tengah)
        "NIK 6271 0312 3456 0001",  # NIK written in groups
        "No KK 1811010101220003",
        "Tanggal 08-10-2022 pukul 08.00",  # dates and times
        "14/08/2022",
        "NPWP 01.234.567.8-901.000",
        "ID 12081234567890",  # a phone-looking tail inside a longer number
        "kode 0812345",  # too short
        "Rp 1.250.000",
        "https://example.org/0812345678901",
        "budi081234567890@example.org",
    ],
)
def test_not_phones(text):
    assert extract_phones(text) == []


def test_normalize_phone():
    assert normalize_phone("0812 3456 7890") == "+6281234567890"
    assert normalize_phone("+6281234567890") == "+6281234567890"
    assert normalize_phone("1811012345670001") is None
    assert normalize_phone("0812-1111-2222 0813-1111-2222") is None  # two numbers


# -- names ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, from_name, expected",
    [
        ("Nama: Budi Santoso\nJabatan: LO DPC PKB", None, "Budi Santoso"),
        ("Nama lengkap : Siti Aminah", None, "Siti Aminah"),
        ("Saya Budi Santoso dari Partai Gerindra ingin bertanya.", None, "Budi Santoso"),
        ("Perkenalkan, saya Siti Aminah, LO Partai Gelora.", None, "Siti Aminah"),
        ("Mohon info.\n\nHormat saya,\nBudi Santoso", None, "Budi Santoso"),
        ("Mohon info.\n\nSalam,\nSiti Aminah\nLO Partai Gelora", None, "Siti Aminah"),
        ("Terima kasih.\n\nHormat kami,\nDPC Partai Gelora Kabupaten Mesuji\n\nSiti Aminah, S.H.\nSekretaris",
         None, "Siti Aminah, S.H."),
        ("Hormat saya,\n(Budi Santoso)", None, "Budi Santoso"),
        ("Hormat saya,\nBudi Santoso - LO Partai Gelora", None, "Budi Santoso"),
        ("Mohon dibantu.", "Budi Santoso", "Budi Santoso"),
    ],
)
def test_name_found(text, from_name, expected):
    assert extract_name(text, from_name) == expected


@pytest.mark.parametrize(
    "text, from_name",
    [
        ("Mohon dibantu.", "budi.santoso@example.net"),
        ("Mohon dibantu.", "Admin"),
        ("Mohon dibantu.", "Admin Sipol DPC PKB"),
        ("Mohon dibantu.", "Partai Gelora"),
        ("Mohon dibantu.", "Gerindra"),
        ("Mohon dibantu.", "sekretariat"),
        ("Saya ingin bertanya soal KTA.", None),
        ("Saya Selaku LO PKB.", None),
        ("Hormat kami,\nDPC Partai Gelora Kabupaten Mesuji", None),
        # A member's data, not the writer:
        ("Anggota kami:\nNama: Ahmad Fauzi\nNIK: 1811012345670001\nterdeteksi ganda.", None),
        ("Nama: Ahmad Fauzi\nNama: Rina Wati", None),
    ],
)
def test_no_name(text, from_name):
    assert extract_name(text, from_name) is None


def test_signature_beats_the_from_header_and_quotes_are_ignored():
    text = ("Baik, terima kasih.\n\nHormat saya,\nBudi Santoso\n\n"
            "Pada Sen, 15 Agu 2022 pukul 09.00, Helpdesk menulis:\n> Hormat kami,\n> Rina Wati\n")
    assert extract_name(text, "DPC PKB") == "Budi Santoso"
    assert "Rina" not in strip_quoted(text)


# -- identify -----------------------------------------------------------------------------


def test_identify_from_contact_record(registry):
    g = identify(msg(text="Mohon info. HP 0813 9999 8888", subject="Konsultasi PKB",
                     from_email="Siti.Aminah@example.net", from_name="siti"), registry)
    assert isinstance(g, IdentityGuess)
    assert (g.name, g.name_source) == ("Siti Aminah", "contact")
    assert (g.party.short, g.party_source) == ("Gelora", "contact")
    assert (g.phone, g.phone_source) == ("+6281211112222", "contact")
    assert (g.email, g.email_source) == ("siti.aminah@example.net", "from-header")


def test_identify_from_registry_address(registry):
    g = identify(msg(text="Kami ingin bertanya.", subject="Konsultasi PKS",
                     from_email="dpc.gerindra.mesuji@example.org"), registry)
    assert (g.party.short, g.party_source) == ("Gerindra", "registry")


def test_identify_from_subject_then_body(registry):
    g = identify(msg(subject="Kendala Unggah KTA - DPC Partai Hanura", text="Kami dari DPC PKB"), registry)
    assert (g.party.short, g.party_source) == ("Hanura", "subject")
    g = identify(msg(subject="Kendala Unggah KTA", text="Kami dari DPC PKB Mesuji."), registry)
    assert (g.party.short, g.party_source) == ("PKB", "body")


def test_identify_full_mail(registry):
    text = (
        "Dengan hormat,\n\nSaya Budi Santoso dari DPC Partai Golkar Kabupaten Mesuji. Anggota kami "
        "atas nama Ahmad (NIK 1811012345670001) terdeteksi ganda dengan PAN.\n\n"
        "Hormat saya,\nBudi Santoso\nLO DPC Partai Golkar\nHP/WA 0812-3456-7890\n"
    )
    g = identify(msg(text=text, subject="Konsultasi: Anggota Terdeteksi Ganda",
                     from_email="budi@example.net", from_name="Budi"), registry)
    assert (g.name, g.name_source) == ("Budi Santoso", "body")
    assert (g.party.short, g.party_source) == ("Golkar", "body")
    assert (g.phone, g.phone_source) == ("+6281234567890", "signature")
    assert (g.email, g.email_source) == ("budi@example.net", "from-header")


def test_identify_with_nothing_to_go_on(registry):
    g = identify(msg(text="Mohon info jadwal.", subject="Tanya", from_email="x123@example.net",
                     from_name="x123"), registry)
    assert g.name is None and g.party is None and g.phone is None
    assert g.name_source is None and g.party_source is None and g.phone_source is None
    assert g.email == "x123@example.net"


def test_identify_uses_reply_to_when_from_is_missing(registry):
    g = identify(msg(from_email=None, reply_to=(Address("Admin DPC Gerindra", "Admin@Example.net"),)),
                 registry)
    assert (g.email, g.email_source) == ("admin@example.net", "reply-to")
    assert (g.party.short, g.party_source) == ("Gerindra", "from-header")
    assert g.name is None  # "Admin DPC Gerindra" is not a person


def test_identify_party_from_display_name(registry):
    g = identify(msg(from_name="DPC PKB Mesuji", text="Mohon info."), registry)
    assert (g.party.short, g.party_source) == ("PKB", "from-header")


def test_question_text_keeps_the_question_and_drops_greeting_signature_and_contacts():
    from kpudesk.tickets.faq_text import question_text
    body = ("Selamat pagi,\n\nKapan batas akhir pendaftaran partai politik?\nMohon penjelasannya.\n\n"
            "Hormat saya,\nBudi Santoso\nSekretaris DPC PKB\nHP 0812-7345-1122\n\n> kutipan lama\n")
    assert question_text(body) == "Kapan batas akhir pendaftaran partai politik?\nMohon penjelasannya."


def test_a_signature_no_longer_pushes_a_covered_question_below_the_faq_threshold():
    from kpudesk.tickets.faq import DEFAULT_FAQ_PATH, DEFAULT_THRESHOLD, FaqBase
    from kpudesk.tickets.faq_text import question_text
    faq = FaqBase.load(DEFAULT_FAQ_PATH)
    body = ("Selamat pagi Bapak/Ibu,\n\nKapan batas akhir pendaftaran partai politik peserta pemilu?\n\n"
            "Hormat saya,\nBudi Santoso\nSekretaris DPC PKB Kabupaten Mesuji\nHP 0812-7345-1122\n")
    (hit, *_rest) = faq.search("Pertanyaan jadwal\n" + question_text(body))
    assert hit.entry.id == "sipol-004" and hit.score >= DEFAULT_THRESHOLD


# --- one Body per message (tickets/text.py) -----------------------------------------------------

def test_body_holds_the_writers_own_words_lowered_and_in_lines():
    body = Body.of("Saya Budi dari PKB.\nMohon info login.\n\nPada Senin, Admin menulis:\n> Nama: Rina\n")
    assert body.text == "Saya Budi dari PKB.\nMohon info login.\n"
    assert body.lines == ("Saya Budi dari PKB.", "Mohon info login.")
    assert body.lower == body.text.lower()
    assert not body.folds and Body.of("\u0130brahim").folds


def test_identify_reads_the_body_it_is_given_instead_of_preparing_another():
    m = msg(text="Mohon info.", from_email="anon@example.net")
    body = Body.of("Nama: Siti Rahmawati\nKami dari DPC Partai Kebangkitan Bangsa.\nHP 0812-3456-7890")
    guess = identify(m, SEED, body)
    assert (guess.name, guess.party.short, guess.phone) == ("Siti Rahmawati", "PKB", "+6281234567890")
    assert identify(m, SEED).name is None


def test_anchored_searches_find_what_a_full_scan_finds_over_the_bench_corpus():
    """The two kept speed-ups of the identity guess (an intro regex tried only at "saya", party
    anchors found with a byte table) give the same matches as the plain scans."""
    rng = random.Random(7)
    words = ["saya", "Saya", "nama", "Budi", "Santoso", "dari", "PKB", "partai", "golkar", "İstanbul",
             "ingin", "Nama saya", "bertanya", "sipol", "\n", ",", "nasdem", "kebangkitan", "é", "_x"]
    keys = SEED._keys
    for _ in range(300):
        body = Body.of(" ".join(rng.choice(words) for _ in range(rng.randint(0, 60))))
        assert ([m.span() for m in names_mod._intro_matches(body)]
                == [m.span() for m in names_mod._INTRO_RE.finditer(body.text)]), body.text
        plain = {w.encode() for w in re.findall(r"[0-9a-z_]+", body.lower)}
        assert ascii_words(body.lower, keys) == keys & plain, body.text
