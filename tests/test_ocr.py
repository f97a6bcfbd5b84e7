"""The OCR port: line grouping (pure), the RapidOCR adapter on a rendered receipt, and the Cloud
Vision adapter through the real google-cloud-vision client against a local fake of the API."""

import base64
import io
import time

import pytest
from PIL import Image

from common import config, ocr, text
from common.errors import BackendUnavailable, ReceiptUnreadable
from tools import receipts
from tools.fakevision import FakeVision, receipt_lines


def box(x, y, w=100, h=20):
    return [[x, y], [x + w, y], [x + w, y + h], [x, y + h]]


def test_words_on_one_baseline_form_one_line_left_to_right():
    words = [(box(300, 101), "R$ 19,50"), (box(20, 100), "Valor"), (box(20, 150), "Pix")]
    assert ocr.group_into_lines(words) == ["Valor  R$ 19,50", "Pix"]


# Payer and receiver side by side, each under its heading (names invented): each column is a block.
TWO_COLUMNS = [
    (box(40, 100, 40), "De"),
    (box(560, 100, 60), "Para"),
    (box(40, 140, 300), "Maria Teste Exemplo"),
    (box(560, 141, 280), "Joana Exemplo"),
    (box(40, 180, 240), "CPF ***.111.222-**"),
    (box(560, 180, 240), "CPF ***.333.444-**"),
    (box(40, 220, 200), "Banco Um S.A."),
    (box(560, 219, 120), "Nubank"),
]
TWO_COLUMN_LINES = [
    "De",
    "Maria Teste Exemplo",
    "CPF ***.111.222-**",
    "Banco Um S.A.",
    "Para",
    "Joana Exemplo",
    "CPF ***.333.444-**",
    "Nubank",
]


def test_two_column_blocks_are_read_column_by_column():
    assert ocr.group_into_lines(TWO_COLUMNS) == TWO_COLUMN_LINES


def test_columns_with_a_narrow_gutter_whose_boxes_overlap_are_still_columns():
    # Detectors pad their boxes: a long name in the left column reaches a few pixels past where
    # the right column's text starts, and the right column's name wraps (rows no longer pair up).
    words = [
        (box(54, 660, 60, 44), "De"),
        (box(557, 660, 90, 44), "Para"),
        (box(55, 724, 509, 44), "Vinícius Nascimento de"),
        (box(557, 725, 411, 44), "Papelaria Caderno &"),
        (box(54, 788, 164, 44), "Ferreira"),
        (box(557, 787, 75, 44), "Cia"),
        (box(57, 853, 440, 44), "CPF/CNPJ: ***.089.756-**"),
        (box(562, 853, 514, 44), "CPF/CNPJ: 49.523.639/0001-40"),
    ]
    assert ocr.group_into_lines(words) == [
        "De",
        "Vinícius Nascimento de",
        "Ferreira",
        "CPF/CNPJ: ***.089.756-**",
        "Para",
        "Papelaria Caderno &",
        "Cia",
        "CPF/CNPJ: 49.523.639/0001-40",
    ]
    # A box that runs well into the other column is one line across both: no columns.
    across = words[:2] + [(box(55, 724, 700, 44), "Uma observação que atravessa a página inteira")] + words[4:]
    assert "De  Para" in ocr.group_into_lines(across)


def test_a_photos_padded_boxes_of_two_neighbouring_cells_still_make_columns():
    # On a photo of the screen the blur pads both cells' boxes: the payer's long name reaches
    # 0.35 heights past where the receiver's column starts, its neighbour's box beside it.
    words = [
        (box(162, 643, 126, 47), "Origem"),
        (box(617, 643, 131, 46), "Destino"),
        (box(162, 700, 471, 53), "Gabriel Ferreira Ribeiro"),
        (box(612, 696, 343, 52), "Patrícia Gonçalves"),
        (box(161, 757, 403, 53), "CPF/CNPJ: ***.056.803-**"),
        (box(614, 757, 156, 50), "Ferreira"),
        (box(161, 818, 309, 45), "BANCO MODAL S.A."),
        (box(615, 811, 407, 53), "CPF/CNPJ: ***.297.670-**"),
        (box(616, 875, 226, 44), "BCO BMG S.A."),
    ]
    lines = ocr.group_into_lines(words)
    assert lines == [
        "Origem",
        "Gabriel Ferreira Ribeiro",
        "CPF/CNPJ: ***.056.803-**",
        "BANCO MODAL S.A.",
        "Destino",
        "Patrícia Gonçalves",
        "Ferreira",
        "CPF/CNPJ: ***.297.670-**",
        "BCO BMG S.A.",
    ]
    # As far into the other column with nothing of that column beside it: no columns.
    alone = [w for w in words if w[1] != "Patrícia Gonçalves"]
    assert "Origem  Destino" in ocr.group_into_lines(alone)


def test_one_box_over_two_cells_is_cut_at_the_gutter_the_image_shows():
    # The detector joined the payer's and the receiver's names across a narrow gutter; the
    # receiver's name wraps, so the rows below still sit in the two columns.
    words = [
        (box(53, 690, 157, 50), "Pagador"),
        (box(558, 691, 194, 45), "Recebedor"),
        (box(55, 755, 898, 43), "Luíza Barbosa Carvalho Gabriel Nascimento"),
        (box(55, 817, 345, 43), "CPF: ***.336.850-**"),
        (box(558, 820, 148, 45), "Ribeiro"),
        (box(558, 883, 347, 46), "CPF: ***.167.709-**"),
    ]
    calls = []

    def cut(index, x):  # as OcrPage measures it: the blank between "Carvalho" and "Gabriel"
        calls.append((words[index][1], x))
        return ("Luíza Barbosa Carvalho", 512.0, "Gabriel Nascimento", 559.0)

    assert ocr.group_into_lines(words, cut=cut) == [
        "Pagador",
        "Luíza Barbosa Carvalho",
        "CPF: ***.336.850-**",
        "Recebedor",
        "Gabriel Nascimento",
        "Ribeiro",
        "CPF: ***.167.709-**",
    ]
    assert calls[0] == ("Luíza Barbosa Carvalho Gabriel Nascimento", 558)
    # No gutter in the box (or no image to look at): one line across both, no columns.
    assert "Pagador  Recebedor" in ocr.group_into_lines(words, cut=lambda index, x: None)
    assert "Pagador  Recebedor" in ocr.group_into_lines(words)
    # A gutter far from where the next column starts is not that column's.
    far = ocr.group_into_lines(
        words, cut=lambda index, x: ("Luíza Barbosa", 360.0, "Carvalho Gabriel Nascimento", 390.0)
    )
    assert "Pagador  Recebedor" in far


def test_rapidocr_cuts_a_box_the_detector_ran_over_two_cells():
    """A Sicoob receipt whose long bold payer name sits a gutter away from the receiver's: the
    detector gives both as one box (tools/hard_receipts, seed-41 case 21)."""
    from common import extraction
    from tools import hard_receipts

    case = hard_receipts.adversarial_case(21, seed=41)
    image = Image.open(io.BytesIO(hard_receipts.render(case))).convert("RGB")
    page = ocr.RapidOcrEngine().read(image)
    assert any(w.text == "Luíza Barbosa Carvalho Gabriel Nascimento" for w in page.words)  # the joined box
    parties = extraction.find_parties(page.lines)
    assert parties["payer"].name == "Luíza Barbosa Carvalho" and parties["payer"].document == "***.336.850-**"
    assert parties["receiver"].name == "Gabriel Nascimento Ribeiro"
    assert parties["receiver"].document == "***.167.709-**"


def test_an_arrow_between_the_headings_is_left_out():
    assert ocr.group_into_lines(TWO_COLUMNS + [(box(300, 100, 30), "→")]) == TWO_COLUMN_LINES


def test_a_label_value_row_after_the_columns_stays_one_line():
    words = TWO_COLUMNS + [
        (box(40, 300, 80), "Valor"),
        (box(880, 300, 120), "R$ 10,00"),
        (box(40, 340, 900), "ID da transação E18236120202506040125s173f4b96d4"),
    ]
    assert ocr.group_into_lines(words) == TWO_COLUMN_LINES + [
        "Valor  R$ 10,00",
        "ID da transação E18236120202506040125s173f4b96d4",
    ]


def test_a_label_under_the_left_column_after_a_wider_gap_is_not_part_of_it():
    words = TWO_COLUMNS + [
        (box(40, 280, 200), "ID da transação"),
        (box(40, 310, 640), "E18236120202506040125s173f4b96d4"),
    ]
    assert ocr.group_into_lines(words) == TWO_COLUMN_LINES + ["ID da transação", "E18236120202506040125s173f4b96d4"]


def test_label_value_pairs_inside_each_column_stay_together():
    words = [
        (box(40, 100, 60), "Origem"),
        (box(560, 100, 80), "Destino"),
        (box(40, 140, 60), "Nome"),
        (box(120, 140, 200), "Maria Teste"),
        (box(560, 140, 60), "Nome"),
        (box(640, 140, 200), "Joana Exemplo"),
        (box(40, 180, 60), "CPF"),
        (box(120, 180, 200), "***.111.222-**"),
        (box(560, 180, 60), "CPF"),
        (box(640, 180, 200), "***.333.444-**"),
    ]
    assert ocr.group_into_lines(words) == [
        "Origem",
        "Nome  Maria Teste",
        "CPF  ***.111.222-**",
        "Destino",
        "Nome  Joana Exemplo",
        "CPF  ***.333.444-**",
    ]


def test_the_payer_of_a_two_column_receipt_is_not_its_heading():
    from common import extraction

    parties = extraction.find_parties(ocr.group_into_lines(TWO_COLUMNS))
    assert parties["payer"].name == "Maria Teste Exemplo" and parties["payer"].document == "***.111.222-**"
    assert parties["receiver"].name == "Joana Exemplo" and parties["receiver"].document == "***.333.444-**"


@pytest.mark.parametrize(
    "words, lines",
    [
        # A label column and a value column starting at one tab stop, under no headings.
        (
            [
                (box(40, 100, 60), "nome"),
                (box(300, 100, 200), "MARIA TESTE"),
                (box(40, 140, 60), "cpf"),
                (box(300, 140, 200), "***.111.222-**"),
                (box(40, 180, 60), "instituição"),
                (box(300, 180, 200), "BANCO UM"),
            ],
            ["nome  MARIA TESTE", "cpf  ***.111.222-**", "instituição  BANCO UM"],
        ),
        # One heading, then right-aligned values.
        (
            [
                (box(40, 100, 80), "Destino"),
                (box(40, 140, 60), "Nome"),
                (box(700, 140, 300), "Maria Teste"),
                (box(40, 180, 60), "CPF"),
                (box(800, 180, 200), "***.111.222-**"),
            ],
            ["Destino", "Nome  Maria Teste", "CPF  ***.111.222-**"],
        ),
        # Headings side by side, but the rows under them are full-width label…value rows.
        (
            [
                (box(40, 100, 40), "De"),
                (box(560, 100, 60), "Para"),
                (box(40, 140, 80), "Valor"),
                (box(880, 140, 120), "R$ 10,00"),
                (box(40, 180, 80), "Data"),
                (box(850, 180, 150), "03/06/2025"),
            ],
            ["De  Para", "Valor  R$ 10,00", "Data  03/06/2025"],
        ),
    ],
)
def test_rows_that_are_not_column_blocks_stay_lines(words, lines):
    assert ocr.group_into_lines(words) == lines


def test_rapidocr_reads_a_rendered_receipt(sample):
    lines = ocr.RapidOcrEngine().lines(Image.open(io.BytesIO(sample["png"])).convert("RGB"))
    text = "\n".join(lines)
    assert sample["receipt"].transaction_id in text.replace(" ", "")
    assert receipts.format_brl(sample["receipt"].amount).replace("R$", "").strip() in text


def test_rapidocr_boxes_of_a_two_column_receipt_come_out_column_by_column():
    from PIL import ImageDraw, ImageFont

    from common import extraction

    image = Image.new("RGB", (1080, 700), "white")
    draw = ImageDraw.Draw(image)
    for x, y, size, line in [
        (60, 60, 40, "Comprovante Pix"),
        (60, 130, 30, "Valor"),
        (860, 130, 30, "R$ 1.500"),
        (60, 300, 34, "De"),
        (560, 300, 34, "Para"),
        (60, 350, 28, "Maria Teste Exemplo"),
        (560, 350, 28, "Joana Exemplo Silva"),
        (60, 395, 26, "CPF ***.111.222-**"),
        (560, 395, 26, "CPF ***.333.444-**"),
        (60, 440, 26, "Banco Um S.A."),
        (560, 440, 26, "Nu Pagamentos S.A."),
        (60, 560, 28, "ID"),
        (60, 600, 28, "E18236120202506031730s173f4b96d4"),
    ]:
        draw.text((x, y), line, fill=(20, 20, 20), font=ImageFont.load_default(size))
    lines = ocr.RapidOcrEngine().lines(image)
    assert "Valor  R$ 1.500" in lines
    order = [
        lines.index(line)
        for line in (
            "De",
            "Maria Teste Exemplo",
            "Banco Um S.A.",
            "Para",
            "Joana Exemplo Silva",
            "Nu Pagamentos S.A.",
            "ID",
        )
    ]
    assert order == sorted(order)
    parties = extraction.find_parties(lines)
    assert parties["payer"].name == "Maria Teste Exemplo" and parties["receiver"].name == "Joana Exemplo Silva"
    assert extraction.find_amount(lines) == 1500.0


# -- The Cloud Vision adapter, through the real google-cloud-vision client against a local fake ----

E2E = "E18236120202506040125s0a1B2c3D4e"
VISION_LINES = [
    ("Comprovante de", (40, 60, 300, 44)),
    ("Valor", (40, 300, 70, 28)),
    ("R$ 19,50", (560, 303, 120, 28)),  # the value's block sits on the label's baseline
    ("Tipo de transferência", (40, 350, 290, 28)),
    ("Pix", (630, 351, 50, 28)),
    (f"ID da transação:\n{E2E}", (40, 900, 600, 64)),  # one paragraph, two lines
]
EXPECTED_LINES = ["Comprovante de", "Valor  R$ 19,50", "Tipo de transferência  Pix", "ID da transação:", E2E]


@pytest.fixture
def vision_engine(fake_vision):
    return ocr.VisionOcrEngine(fake_vision.url)


def sample_image(sample):
    return Image.open(io.BytesIO(sample["png"])).convert("RGB")


def test_vision_lines_join_label_and_value_on_one_baseline(fake_vision, vision_engine, sample):
    fake_vision.answer(VISION_LINES)
    assert vision_engine.lines(sample_image(sample)) == EXPECTED_LINES


def test_vision_lines_of_two_column_blocks_are_read_column_by_column(fake_vision, vision_engine, sample):
    fake_vision.answer(
        [(text, (corners[0][0], corners[0][1], corners[1][0] - corners[0][0], 20)) for corners, text in TWO_COLUMNS]
    )
    assert vision_engine.lines(sample_image(sample)) == TWO_COLUMN_LINES


def test_vision_gets_the_image_as_png_with_document_text_detection(fake_vision, vision_engine, sample):
    fake_vision.answer(VISION_LINES)
    image = sample_image(sample)
    vision_engine.lines(image)
    [sent] = fake_vision.requests
    assert (sent.method, sent.path) == ("POST", "/v1/images:annotate")
    assert "authorization" not in {name.lower() for name in sent.headers}  # anonymous on a custom endpoint
    [request] = sent.body["requests"]
    assert request["features"] == [{"type": 11}]  # DOCUMENT_TEXT_DETECTION, as an enum integer
    assert request["imageContext"] == {"languageHints": ["pt"]}
    received = Image.open(io.BytesIO(base64.b64decode(request["image"]["content"])))
    assert received.format == "PNG" and received.convert("RGB").tobytes() == image.tobytes()


def test_vision_falls_back_to_the_text_annotation_without_a_document():
    from google.cloud import vision

    response = vision.AnnotateImageResponse(text_annotations=[{"description": "Valor\n\nR$ 19,50\n"}])
    assert ocr._vision_lines(response) == ["Valor", "R$ 19,50"]


def test_an_image_pdf_is_read_by_vision_in_one_files_request(fake_vision, vision_engine, settings):
    receipt = receipts.sample_receipt(0)
    pdf = receipts.render_image_pdf(receipt, "nubank")
    fake_vision.answer(receipt_lines(receipt, "nubank"))
    seen = []
    result = text.extract_text(pdf, "application/pdf", vision_engine, settings, progress=seen.append)
    assert result.source == "ocr" and seen == [1.0]
    assert receipt.transaction_id in result.lines
    assert "Valor  " + receipts.format_brl(receipt.amount) in result.lines
    [sent] = fake_vision.requests
    assert sent.path == "/v1/files:annotate"
    [request] = sent.body["requests"]
    assert request["inputConfig"]["mimeType"] == "application/pdf"
    assert base64.b64decode(request["inputConfig"]["content"]) == pdf
    assert request["features"] == [{"type": 11}] and request["pages"] == [1]


def test_vision_reads_at_most_five_pdf_pages_in_page_order(fake_vision, vision_engine):
    fake_vision.answer([], pages=[["page one"], ["page two"], ["page three"]])
    assert vision_engine.lines_from_pdf(b"%PDF-1.7 scanned", max_pages=20) == ["page one", "page two", "page three"]
    assert fake_vision.requests[-1].body["requests"][0]["pages"] == [1, 2, 3, 4, 5]
    vision_engine.lines_from_pdf(b"%PDF-1.7 scanned", max_pages=2)
    assert fake_vision.requests[-1].body["requests"][0]["pages"] == [1, 2]


def test_one_vision_503_is_retried_within_the_call(fake_vision, vision_engine, sample):
    fake_vision.answer(VISION_LINES)
    fake_vision.fail(times=1, status=503)
    assert vision_engine.lines(sample_image(sample)) == EXPECTED_LINES
    assert len(fake_vision.requests) == 2


def test_vision_down_is_backend_unavailable_quickly(fake_vision, vision_engine, sample):
    fake_vision.fail(times=100, status=503)
    started = time.monotonic()
    with pytest.raises(BackendUnavailable, match="503"):
        vision_engine.lines(sample_image(sample))
    assert time.monotonic() - started < ocr.VISION_RETRY_SECONDS + 3
    assert 2 <= len(fake_vision.requests) < 100


@pytest.mark.parametrize("status", [429, 500])
def test_vision_overloaded_or_failing_is_backend_unavailable(fake_vision, vision_engine, sample, status):
    fake_vision.fail(times=1, status=status)
    with pytest.raises(BackendUnavailable):
        vision_engine.lines(sample_image(sample))
    assert len(fake_vision.requests) == 1  # left to the task queue's retries


def test_vision_unreachable_is_backend_unavailable(sample):
    gone = FakeVision().start()
    gone.stop()
    with pytest.raises(BackendUnavailable):
        ocr.VisionOcrEngine(gone.url).lines(sample_image(sample))


def test_a_transient_per_image_error_is_backend_unavailable(fake_vision, vision_engine, sample):
    fake_vision.answer_error(code=14, message="The service is currently unavailable.")
    with pytest.raises(BackendUnavailable, match="unavailable"):
        vision_engine.lines(sample_image(sample))


def test_a_bad_image_error_makes_the_receipt_unreadable(fake_vision, vision_engine, sample):
    fake_vision.answer_error(code=3, message="Bad image data.")
    with pytest.raises(ReceiptUnreadable, match="Bad image data") as raised:
        vision_engine.lines(sample_image(sample))
    assert raised.value.code == "unreadable_file"


def test_a_bad_pdf_error_makes_the_receipt_unreadable(fake_vision, vision_engine):
    fake_vision.answer_error(code=3, message="Bad PDF data.")
    with pytest.raises(ReceiptUnreadable, match="Bad PDF data"):
        vision_engine.lines_from_pdf(b"%PDF-broken", max_pages=1)


def test_ocr_engine_vision_builds_one_vision_engine_per_endpoint(fake_vision):
    settings = config.from_env({"OCR_ENGINE": "vision", "VISION_API_ENDPOINT": fake_vision.url})
    engine = ocr.from_settings(settings)
    assert isinstance(engine, ocr.VisionOcrEngine) and engine.endpoint == fake_vision.url
    assert ocr.from_settings(settings) is engine
    other = ocr.from_settings(config.from_env({"OCR_ENGINE": "vision", "VISION_API_ENDPOINT": "http://127.0.0.1:9"}))
    assert other is not engine and other.endpoint == "http://127.0.0.1:9"
    assert isinstance(ocr.from_settings(config.from_env({})), ocr.RapidOcrEngine)
    engine.warm()


def test_an_image_too_big_as_png_goes_to_vision_as_jpeg(fake_vision, vision_engine, sample, monkeypatch):
    monkeypatch.setattr(ocr, "VISION_MAX_PNG_BYTES", 1000)
    fake_vision.answer(VISION_LINES)
    assert vision_engine.lines(sample_image(sample)) == EXPECTED_LINES
    content = base64.b64decode(fake_vision.requests[-1].body["requests"][0]["image"]["content"])
    assert Image.open(io.BytesIO(content)).format == "JPEG"


def test_a_pdf_too_big_for_one_vision_request_is_read_page_by_page(fake_vision, vision_engine, settings, monkeypatch):
    monkeypatch.setattr(ocr, "VISION_MAX_PDF_BYTES", 1000)
    receipt = receipts.sample_receipt(0)
    fake_vision.answer(receipt_lines(receipt, "nubank"))
    result = text.extract_text(receipts.render_image_pdf(receipt, "nubank"), "application/pdf", vision_engine, settings)
    assert receipt.transaction_id in result.lines
    assert [request.path for request in fake_vision.requests] == ["/v1/images:annotate"]


def test_the_engine_runs_onnxruntime_on_the_threads_it_is_given():
    recognizer = ocr.RapidOcrEngine(threads=1)._loaded()._load_rec_model()
    assert recognizer.session.session.get_session_options().intra_op_num_threads == 1
    assert ocr.RapidOcrEngine().threads == config.available_cores()  # by default, every core it may use


def test_one_engine_per_thread_count_in_a_process():
    one = ocr.from_settings(config.from_env({"OCR_THREADS": "1"}))
    assert one is ocr.from_settings(config.from_env({"OCR_THREADS": "1"})) and one.threads == 1
