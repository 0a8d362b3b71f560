"""
Property tests of the data side: whatever names and contents the files of a
`--dataset folder` folder have, and whatever happens to the image cache, every readable image is
served with its own pixels, every unreadable one is skipped and counted in one printable line, and
nothing raises. Each property has the profile's examples (30; --hypothesis-profile=thorough: 300), and
each can fail: the pixels expected are worked out in numpy, never by the code under test.
"""
import contextlib
import io
import os
import re
import subprocess
import sys
import tempfile
import unicodedata

import numpy as np
import pytest
from hypothesis import example, given, strategies as st
from PIL import Image

import helper
from conftest import GUARD_SECONDS, ROOT, child_env
from facegan.core.errors import DatasetError
from facegan.data import images

# --- Helpers: files written by their bytes names, each a colour of its own ---------------------

EXTENSIONS = (b'.png', b'.PNG', b'.jpg', b'.jpeg', b'.JPG')
SIDE = 120  # larger than get_image's 108x108 crop, so the crop takes image pixels only


def colour_of(number):
    """:return: The solid RGB colour of the number-th file of a folder: a different one for each number below 256"""
    return number, 255 - number, (number * 97 + 31) % 256


def png_bytes(image, image_format='PNG'):
    """:return: A PIL image encoded in memory"""
    encoded = io.BytesIO()
    image.save(encoded, image_format)
    return encoded.getvalue()


def solid_png(number):
    """:return: PNG bytes of a SIDE x SIDE image of colour_of(number)"""
    return png_bytes(Image.new('RGB', (SIDE, SIDE), colour_of(number)))


def write_bytes_name(folder, name, data):
    """
    Write a file whose name is given as bytes, as the file system takes it
    :param folder: Folder (str)
    :param name: File name, bytes without '/' or NUL
    :param data: Its contents
    """
    fd = os.open(os.path.join(os.fsencode(folder), name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, 'wb') as f:
        f.write(data)


def build_dataset(files, mode='RGB'):
    """
    helper.Dataset('folder', ...) over files, capturing what it prints on stderr
    :return: (the Dataset, or the DatasetError it raised; the stderr text)
    """
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            dataset = helper.Dataset('folder', files, image_mode=mode)
        except DatasetError as error:
            dataset = error
    return dataset, err.getvalue()


def message_lines(stderr):
    """:return: stderr's lines, less the progress bar's redraws"""
    return [line for line in re.split('[\r\n]', stderr) if line.strip() and not line.startswith('Caching images')]


def check_warning(stderr, skipped, total):
    """Assert stderr holds, besides the progress bar, only the one warning line a skipped file needs, if any."""
    lines = message_lines(stderr)
    if not skipped:
        assert lines == [], lines
        return
    assert len(lines) == 1, lines
    plural = 's' if skipped > 1 else ''
    assert re.fullmatch(r'warning: skipped {} unreadable image{} of {} \(first: .+\)'.format(skipped, plural, total),
                        lines[0]), lines
    assert lines[0].isprintable(), lines  # no control character, no surrogate: prints in any locale


def _spoil(path, where, how, bit):
    """
    Damage a file in place
    :param where: Byte offset (modulo the file's size)
    :param how: 'flip' a bit there, or 'truncate' the file there
    :param bit: Which bit of the byte to flip
    """
    with open(path, 'rb') as f:
        data = bytearray(f.read())
    at = where % len(data)
    if how == 'flip':
        data[at] ^= 1 << bit
    else:
        del data[at:]
    with open(path, 'wb') as f:
        f.write(bytes(data))


# --- 1. File names: anything the file system accepts ---------------------------------------------

def _no_slash_or_nul(name):
    return name.replace(b'/', b'_').replace(b'\0', b'_')


ACCENTED = 'aAeEéÉöÖñÑßﬁİıÅ-_ x'
stems = st.one_of(
    st.binary(max_size=30).map(_no_slash_or_nul),  # any bytes, often not UTF-8
    st.text(max_size=15).map(lambda text: _no_slash_or_nul(text.encode())),  # any Unicode
    st.tuples(st.sampled_from([b'-', b'--', b' ', b'\n', b'\t', b'\r', b'-\n ']), st.binary(max_size=10))
    .map(lambda parts: _no_slash_or_nul(parts[0] + parts[1] + parts[0])),  # dashes, spaces, newlines
)


@st.composite
def file_names(draw):
    """
    :return: A list of distinct names (bytes): some of any bytes; one as long as a name can be (255
        bytes); names that differ only in case, or in Unicode normalisation (NFC vs NFD)
    """
    extension = st.sampled_from(EXTENSIONS)
    names = [draw(stems) + draw(extension) for _ in range(draw(st.integers(0, 3)))]
    if draw(st.booleans()):
        long_stem = (draw(stems) or b'x') * 255
        long_extension = draw(extension)
        names.append(long_stem[:255 - len(long_extension)] + long_extension)
    if draw(st.booleans()) or not names:
        text = draw(st.text(alphabet=ACCENTED, min_size=1, max_size=6))
        forms = [unicodedata.normalize('NFC', text), unicodedata.normalize('NFD', text), text.upper(), text.lower()]
        names.extend(form.encode() + draw(extension) for form in forms)
    return sorted(set(names))


@given(names=file_names(), unreadable=st.sets(st.integers(0, 20)))
def test_any_file_names_are_read_or_skipped_with_the_right_pixels(names, unreadable):
    """Each name holds its own colour (or, if picked, damaged bytes): every colour comes back under its own name."""
    with tempfile.TemporaryDirectory() as folder:
        for number, name in enumerate(names):
            data = solid_png(number)
            write_bytes_name(folder, name, data[:40] if number in unreadable else data)
        files = helper.list_image_files(folder)
        assert sorted(os.fsencode(os.path.relpath(path, folder)) for path in files) == names
        dataset, stderr = build_dataset(files)
        bad = [name for number, name in enumerate(names) if number in unreadable]
        check_warning(stderr, len(bad), len(names))
        if len(bad) == len(names):
            assert isinstance(dataset, DatasetError) and '\n' not in str(dataset)
            return
        served = {os.fsencode(os.path.basename(path)): image
                  for path, image in zip(dataset.data_files, dataset.images(range(dataset.shape[0])))}
        assert sorted(served) == sorted(set(names) - set(bad))
        for name, image in served.items():
            assert (image == colour_of(names.index(name))).all(), name


def test_a_name_that_is_not_utf8_is_read(tmp_path):
    """Was: UnicodeEncodeError: 'utf-8' codec can't encode character '\\udce9' ... (the cache key)."""
    for number, name in enumerate([b'caf\xe9.png', b'plain.png']):
        write_bytes_name(str(tmp_path), name, solid_png(number))
    dataset, stderr = build_dataset(helper.list_image_files(str(tmp_path)))
    assert message_lines(stderr) == []
    assert [os.fsencode(os.path.basename(path)) for path in dataset.data_files] == [b'caf\xe9.png', b'plain.png']
    assert (dataset.images([0]) == colour_of(0)).all() and (dataset.images([1]) == colour_of(1)).all()


def _odd_folder(folder):
    """A folder of two images with a name that is not UTF-8, one with an accent, and a bad one named with a newline"""
    write_bytes_name(folder, b'caf\xe9.png', solid_png(1))
    write_bytes_name(folder, 'café.png'.encode(), solid_png(2))
    write_bytes_name(folder, b'-bad\n\xff name.png', b'not an image')


@pytest.mark.parametrize('locale', [dict(), dict(LC_ALL='C.UTF-8', LANG='C.UTF-8', PYTHONUTF8=None),
                                    dict(PYTHONUTF8='0')], ids=['C-utf8-mode', 'utf8-locale', 'C-ascii'])
def test_odd_names_print_safely_in_any_locale(tmp_path, locale):
    _odd_folder(str(tmp_path))
    code = ('import sys; sys.path.insert(0, {!r}); import helper\n'
            'print(helper.Dataset("folder", helper.list_image_files({!r}), image_mode="RGB").shape)'
            .format(ROOT, str(tmp_path)))
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, timeout=GUARD_SECONDS,
                            env=child_env(**locale))
    assert result.returncode == 0, result.stderr.decode(errors='replace')[-2000:]
    assert result.stdout.decode().strip() == '(2, 28, 28, 3)'
    assert message_lines(result.stderr.decode()) == [
        'warning: skipped 1 unreadable image of 3 (first: {}/-bad\\n\\xff name.png)'.format(tmp_path)]


# --- 2. File contents: any bytes, any damage, any mode and size ---------------------------------

# How each mode is made from random 8-bit RGB pixels, and the formats that store it
MODES = {
    '1': ('PNG', 'TIFF', 'BMP'), 'L': ('PNG', 'JPEG', 'TIFF', 'BMP'), 'P': ('PNG', 'TIFF', 'BMP', 'GIF'),
    'P+transparency': ('PNG',), 'RGB': ('PNG', 'JPEG', 'TIFF', 'BMP', 'WEBP'), 'RGBA': ('PNG', 'TIFF'),
    'LA': ('PNG', 'TIFF'), 'PA': ('TIFF',), 'CMYK': ('JPEG', 'TIFF'), 'YCbCr': ('TIFF',),
    'I;16': ('PNG', 'TIFF'), 'I': ('TIFF',), 'F': ('TIFF',),
}


def make_image(kind, pixels):
    """
    :param kind: A key of MODES
    :param pixels: uint8 (h, w, 3) array
    :return: PIL image of that mode; the wide modes ('I;16', 'I', 'F') spread over their whole range
    """
    if kind == 'I;16':
        return Image.fromarray(pixels[..., 0].astype(np.uint16) * 257)
    if kind == 'I':
        return Image.fromarray(pixels[..., 0].astype(np.int32) * 257)
    if kind == 'F':
        return Image.fromarray(pixels[..., 0].astype(np.float32) * 1.25 - 20)  # some below 0, some above 255
    image = Image.fromarray(pixels)
    if kind == 'P+transparency':
        return image.quantize(16)
    if kind == 'PA':
        return image.quantize(16).convert('PA')
    return image.convert(kind)


def encoded(kind, image_format, image):
    """:return: The image saved in the format (a palette one with colour 0 transparent for 'P+transparency')"""
    if kind == 'P+transparency':
        out = io.BytesIO()
        image.save(out, image_format, transparency=0)
        return out.getvalue()
    return png_bytes(image, image_format)


def eight_bit_reference(opened):
    """
    The 8-bit image get_image should crop, worked out in numpy: 16-bit grey's high byte, a
    palette's colours (with the alpha of its transparent colour), 1-bit as 0 or 255; other modes as they are
    :param opened: PIL image as opened
    :return: (array (h, w) or (h, w, channels), its PIL mode)
    """
    if opened.mode in ('I;16', 'I;16B', 'I;16L', 'I'):
        return (np.clip(np.asarray(opened, np.int64), 0, 65535) // 256).astype(np.uint8), 'L'
    if opened.mode == '1':
        return np.asarray(opened).astype(np.uint8) * 255, 'L'
    if opened.mode in ('P', 'PA'):
        palette = np.asarray(opened.getpalette('RGB'), np.uint8).reshape(-1, 3)
        indices = np.asarray(opened.getchannel('P') if opened.mode == 'PA' else opened)
        colours = palette[indices]
        if opened.mode == 'PA':
            return np.dstack([colours, np.asarray(opened.getchannel('A'))]), 'RGBA'
        if 'transparency' in opened.info:
            alpha = np.where(indices == opened.info['transparency'], 0, 255).astype(np.uint8)
            return np.dstack([colours, alpha]), 'RGBA'
        return colours, 'RGB'
    if opened.mode == 'F':
        return np.asarray(opened, np.float32), 'F'
    return np.asarray(opened), opened.mode


def reference_pixels(data, mode):
    """
    What get_image should give, worked out independently: the 8-bit image's centre 108x108 cut out in
    numpy (zeros beyond its edges), resized to 28x28 bilinearly, then converted to the mode; a 28x28
    image as it is
    :param data: The file's bytes
    :param mode: 'RGB' or 'L'
    :return: uint8 array (28, 28, 3) or (28, 28)
    """
    with Image.open(io.BytesIO(data)) as opened:
        pixels, eight_bit_mode = eight_bit_reference(opened)
    height, width = pixels.shape[:2]
    if (width, height) != (28, 28):
        top, left = (height - 108) // 2, (width - 108) // 2
        pad = max(0, -top, -left, top + 108 - height, left + 108 - width)
        padded = np.pad(pixels, [(pad, pad), (pad, pad)] + [(0, 0)] * (pixels.ndim - 2))
        pixels = padded[top + pad:top + pad + 108, left + pad:left + pad + 108]
        image = Image.frombytes(eight_bit_mode, (108, 108), np.ascontiguousarray(pixels).tobytes())
        image = image.resize((28, 28), Image.Resampling.BILINEAR)
    else:
        image = Image.frombytes(eight_bit_mode, (28, 28), np.ascontiguousarray(pixels).tobytes())
    return np.asarray(image.convert(mode))


def read_file(data, mode):
    """:return: What the folder pipeline makes of a file holding data: get_image's array, or None (skipped)"""
    with tempfile.NamedTemporaryFile(suffix='.png') as f:
        f.write(data)
        f.flush()
        return images.decode_or_none(f.name, 28, 28, mode, helper.get_image)


def check_image(image, mode):
    """Assert image is a 28x28 uint8 image in the mode"""
    assert image.dtype == np.uint8 and image.shape == ((28, 28, 3) if mode == 'RGB' else (28, 28)), image.shape


sizes = st.one_of(st.just((28, 28)), st.tuples(st.integers(1, 180), st.integers(1, 180)))


@st.composite
def clean_images(draw):
    """:return: (kind, format, the file's bytes) of a random image of any mode and size"""
    kind = draw(st.sampled_from(sorted(MODES)))
    image_format = draw(st.sampled_from(MODES[kind]))
    width, height = draw(sizes)
    seed = draw(st.integers(0, 2 ** 32 - 1))
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return kind, image_format, encoded(kind, image_format, make_image(kind, pixels))


@given(clean=clean_images(), mode=st.sampled_from(['RGB', 'L']))
def test_an_image_of_any_mode_and_size_gives_its_centre_crop(clean, mode):
    kind, image_format, data = clean
    image = read_file(data, mode)
    assert image is not None, 'a clean {} {} was skipped'.format(kind, image_format)
    check_image(image, mode)
    np.testing.assert_array_equal(image, reference_pixels(data, mode))


@given(data=st.one_of(st.binary(max_size=300),
                      st.binary(max_size=300).map(lambda tail: b'\x89PNG\r\n\x1a\n' + tail),
                      st.binary(max_size=300).map(lambda tail: b'\xff\xd8\xff' + tail)),
       clean=clean_images(), tail=st.binary(max_size=64), mode=st.sampled_from(['RGB', 'L']))
def test_any_bytes_are_an_image_or_skipped_and_an_image_is_read_whatever_follows_it(data, clean, tail, mode):
    """
    Random bytes: skipped, or (rarely) an image of the right shape, never an error. An image followed by any
    bytes (a download with junk after it): its own pixels, so a reader that skipped everything would fail here
    """
    image = read_file(data, mode)
    if image is not None:
        check_image(image, mode)
    kind, image_format, encoded_image = clean
    np.testing.assert_array_equal(read_file(encoded_image + tail, mode), reference_pixels(encoded_image, mode))


@given(clean=clean_images(), how=st.sampled_from(['flip', 'truncate']), where=st.integers(0, 10 ** 5),
       bit=st.integers(0, 7), mode=st.sampled_from(['RGB', 'L']))
def test_a_damaged_image_is_an_image_or_skipped_never_a_blank(clean, how, where, bit, mode):
    """The same image undamaged is read with its own pixels: a reader that skips every file fails here."""
    kind, image_format, data = clean
    reference = reference_pixels(data, mode)
    np.testing.assert_array_equal(read_file(data, mode), reference)
    with tempfile.NamedTemporaryFile() as damaged:
        damaged.write(data)
        damaged.flush()
        _spoil(damaged.name, where, how, bit)
        with open(damaged.name, 'rb') as f:
            image = read_file(f.read(), mode)
    if image is not None:
        check_image(image, mode)
        assert image.any() or not reference.any(), 'a blank served for a {} {}'.format(kind, image_format)


@pytest.mark.parametrize('image_format', ['PNG', 'JPEG', 'TIFF', 'BMP', 'GIF', 'WEBP'])
@pytest.mark.parametrize('kept', [0.5, 40], ids=['half', 'first-40-bytes'])
def test_an_image_cut_short_is_skipped(image_format, kept):
    """Named examples of damage whose outcome is known: cut to half, or to its header, no format reads it."""
    pixels = np.random.default_rng(0).integers(0, 256, (120, 120, 3), dtype=np.uint8)
    data = png_bytes(Image.fromarray(pixels).convert('P' if image_format == 'GIF' else 'RGB'), image_format)
    assert read_file(data, 'RGB') is not None
    assert read_file(data[:int(len(data) * kept) if kept < 1 else kept], 'RGB') is None


@st.composite
def folder_contents(draw):
    """:return: (each file's bytes, its reference pixels or None): clean images of any mode and size, and files of
    the first 40 bytes of one (a header, no pixels: unreadable in every format)"""
    contents = []
    for _ in range(draw(st.integers(1, 4))):
        data = draw(clean_images())[2]
        contents.append((data[:40], None) if draw(st.booleans()) else (data, data))
    return contents


@given(contents=folder_contents(), mode=st.sampled_from(['RGB', 'L']))
def test_a_folder_of_any_contents_serves_each_readable_image_and_counts_the_rest(contents, mode):
    with tempfile.TemporaryDirectory() as folder:
        for number, (data, _) in enumerate(contents):
            write_bytes_name(folder, b'%d.png' % number, data)
        files = helper.list_image_files(folder)
        dataset, stderr = build_dataset(files, mode)
        readable = [number for number, (_, image) in enumerate(contents) if image is not None]
        check_warning(stderr, len(contents) - len(readable), len(contents))
        if not readable:
            assert isinstance(dataset, DatasetError) and str(dataset) == (
                'None of the {} images of the folder dataset can be read (the first: {}): give it image files that '
                'open (jpg, jpeg or png)'.format(len(contents), helper.one_line(files[0])))
            return
        assert dataset.data_files == [files[number] for number in readable]
        served = dataset.images(range(dataset.shape[0]))
        for position, number in enumerate(readable):
            expected = reference_pixels(contents[number][1], mode)
            np.testing.assert_array_equal(served[position].reshape(expected.shape), expected)


# --- 3. Image cache damage: rebuilt (and said), or refused in one line; never wrong pixels ----------

def _cache_files(folder):
    """:return: {'.npy': path, '.json': path} of the one image cache in folder's .cache"""
    cache = os.path.join(folder, '.cache')
    return {os.path.splitext(name)[1]: os.path.join(cache, name) for name in os.listdir(cache)
            if name.endswith(('.npy', '.json'))}


@given(extension=st.sampled_from(['.npy', '.json']), how=st.sampled_from(['flip', 'truncate']),
       where=st.integers(0, 20000), bit=st.integers(0, 7))
@example(extension='.npy', how='flip', where=5000, bit=0)  # a pixel: was served changed, without a word
@example(extension='.json', how='flip', where=26, bit=0)  # the skipped list's "2" made "3": wrong files served
@example(extension='.npy', how='flip', where=25, bit=2)  # the header's ',' made '(': np.load's TokenError, a traceback
def test_a_damaged_cache_is_rebuilt_with_one_note_never_served(extension, how, where, bit):
    """
    In a folder it can write to, a damaged cache is always seen and rebuilt: every bit of either file matters (a
    refusal is only for a cache that cannot be removed, the next test)
    """
    with tempfile.TemporaryDirectory() as folder:
        for number in range(4):
            write_bytes_name(folder, b'%d.png' % number, solid_png(number) if number != 2 else b'unreadable')
        files = helper.list_image_files(folder)
        build_dataset(files)
        _spoil(_cache_files(folder)[extension], where, how, bit)
        dataset, stderr = build_dataset(files)
        notes = [line for line in message_lines(stderr) if not line.startswith('warning: skipped 1 unreadable')]
        assert len(notes) == 1, notes
        assert re.fullmatch(r'note: the image cache .* was damaged \(.+\); rebuilding it', notes[0]), notes
        assert [os.path.basename(path) for path in dataset.data_files] == ['0.png', '1.png', '3.png']
        for position, number in enumerate([0, 1, 3]):
            assert (dataset.images([position]) == colour_of(number)).all()


def test_a_damaged_cache_that_cannot_be_removed_is_one_line(tmp_path, monkeypatch):
    """Where the damaged files cannot be removed (a read-only folder), one line says what to do."""
    folder = str(tmp_path)
    for number in range(2):
        write_bytes_name(folder, b'%d.png' % number, solid_png(number))
    files = helper.list_image_files(folder)
    build_dataset(files)
    _spoil(_cache_files(folder)['.npy'], 5000, 'flip', 0)
    real_remove = os.remove

    def read_only(path):
        if str(path).endswith(('.npy', '.json')):  # a read-only folder: no lock file was made either
            raise PermissionError(13, 'Permission denied', path)
        real_remove(path)
    monkeypatch.setattr(os, 'remove', read_only)
    error, _ = build_dataset(files)
    assert isinstance(error, DatasetError)
    assert re.fullmatch(r'the image cache \S+\.json is damaged \(its checksum does not match\) and cannot be removed '
                        r'\(Permission denied\): delete it, or make its folder writable', str(error)), str(error)

