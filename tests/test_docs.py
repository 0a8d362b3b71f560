"""
The README's and docs/*.md's links lead somewhere: every relative link (a markdown link or image, a
reference-style definition, an <img src> or <a href>) names a file that exists, and every #anchor,
in the same page or in another .md, is a heading of that page, slugged as GitHub slugs it. External
links (http, https, mailto) are not followed: no network. Code (fenced blocks and `inline code`) is
not read for links, since it shows text, not a link.
"""
import glob
import os
import re
import urllib.parse

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGES = sorted([os.path.join(ROOT, 'README.md')] + glob.glob(os.path.join(ROOT, 'docs', '*.md')))

_FENCE = re.compile(r'^ {0,3}(`{3,}|~{3,})')
_INLINE_CODE = re.compile(r'(`+)(.+?)\1', re.S)
_ATX_HEADING = re.compile(r'^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$')
_SETEXT_UNDERLINE = re.compile(r'^ {0,3}(=+|-+)[ \t]*$')
# [text](target "title") and ![alt](target): the target is everything up to a space or the closing parenthesis
# (an angle-bracketed <target> may hold spaces)
_MARKDOWN_LINK = re.compile(r'\]\(\s*(<[^>]*>|[^)\s]*)(?:\s+(?:"[^"]*"|\'[^\']*\'|\([^)]*\)))?\s*\)')
_REFERENCE_DEFINITION = re.compile(r'^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)', re.M)
_HTML_LINK = re.compile(r'<(?:img|a|source)\b[^>]*?\b(?:src|href)\s*=\s*(?:"([^"]*)"|\'([^\']*)\')', re.I)
_HTML_ANCHOR = re.compile(r'<[a-z][^>]*?\b(?:id|name)\s*=\s*(?:"([^"]*)"|\'([^\']*)\')', re.I)
_EXTERNAL = re.compile(r'^[a-z][a-z0-9+.-]*:', re.I)  # http:, https:, mailto: ...


def _read(path):
    with open(path, encoding='utf-8') as f:
        return f.read()


def _lines_outside_fences(text):
    """:return: The text's lines, each fenced code block's lines (and its fences) replaced by empty lines"""
    lines, fence = [], None
    for line in text.split('\n'):
        match = _FENCE.match(line)
        if fence is None and match:
            fence = match.group(1)
            lines.append('')
        elif fence is not None:
            if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence) \
                    and not line.strip()[len(match.group(1)):].strip():
                fence = None
            lines.append('')
        else:
            lines.append(line)
    return lines


def _without_code(text):
    """:return: The text with code blocks emptied and inline code spans replaced by a word"""
    return _INLINE_CODE.sub('code', '\n'.join(_lines_outside_fences(text)))


def slug(heading):
    """
    :param heading: A heading's markdown text ('Keep a face: `face_NNN.npy` and `--z`')
    :return: Its anchor as GitHub makes it: the text as rendered (links by their text, code and emphasis marks
             dropped), lowercased, every character but letters, digits, spaces, '-' and '_' dropped, each space
             a '-' ('keep-a-face-face_nnnnpy-and---z')
    """
    text = re.sub(r'!?\[([^\]]*)\]\([^)]*\)', r'\1', heading)  # a link or image: its text
    text = re.sub(r'<[^>]+>', '', text)  # HTML tags
    text = text.replace('`', '')
    text = re.sub(r'(\*+|(?<!\w)_+|_+(?!\w))', '', text)  # emphasis marks, not the underscores inside a word
    return re.sub(r'[^\w\- ]', '', text.strip().lower()).replace(' ', '-')


def anchors(path):
    """:return: The anchors a page has: its headings' slugs (a repeated one gets -1, -2, ...) and HTML ids"""
    found, counts = set(), {}
    lines = _lines_outside_fences(_read(path))
    headings = []
    for i, line in enumerate(lines):
        atx = _ATX_HEADING.match(line)
        if atx:
            headings.append(atx.group(2))
        elif i > 0 and lines[i - 1].strip() and not _ATX_HEADING.match(lines[i - 1]) \
                and _SETEXT_UNDERLINE.match(line) and (line.strip()[0] == '=' or len(line.strip()) >= 2) \
                and not lines[i - 1].lstrip().startswith(('-', '*', '|', '>')):
            headings.append(lines[i - 1].strip())
    for heading in headings:
        base = slug(heading)
        count = counts.get(base, 0)
        counts[base] = count + 1
        found.add(base if count == 0 else '{}-{}'.format(base, count))
    text = '\n'.join(lines)
    found.update(a or b for a, b in _HTML_ANCHOR.findall(text))
    return found


def links(path):
    """:return: [(line number, target)] of a page's links and images, outside code"""
    text = _without_code(_read(path))
    found = []
    for pattern in (_MARKDOWN_LINK, _REFERENCE_DEFINITION):
        for match in pattern.finditer(text):
            found.append((text.count('\n', 0, match.start()) + 1, match.group(1).strip('<>')))
    for match in _HTML_LINK.finditer(text):
        found.append((text.count('\n', 0, match.start()) + 1, match.group(1) or match.group(2)))
    return sorted(found)


def broken_links(path):
    """:return: ['LINE: TARGET: what is wrong'] for each relative link of the page that leads nowhere"""
    problems = []
    for line, target in links(path):
        if not target or _EXTERNAL.match(target):
            continue
        file_part, _, anchor = target.partition('#')
        file_part = urllib.parse.unquote(file_part.split('?')[0])
        destination = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
        if not os.path.exists(destination):
            problems.append('{}: {}: no such file {}'.format(line, target, os.path.relpath(destination, ROOT)))
        elif anchor and destination.endswith('.md') and urllib.parse.unquote(anchor) not in anchors(destination):
            problems.append('{}: {}: {} has no heading with the anchor #{}'.format(
                line, target, os.path.relpath(destination, ROOT), anchor))
    return problems


@pytest.mark.parametrize('page', PAGES, ids=lambda path: os.path.relpath(path, ROOT))
def test_links_lead_somewhere(page):
    assert broken_links(page) == [], 'broken links in {}'.format(os.path.relpath(page, ROOT))


def test_the_pages_have_links_to_check():
    """The test reads the links it should: the README links docs pages, and a page's own headings are anchors."""
    readme = os.path.join(ROOT, 'README.md')
    targets = [target for _, target in links(readme)]
    assert any(target.startswith('docs/') and target.endswith('.md') for target in targets)
    assert any('#' in target for target in targets)
    assert anchors(readme)


@pytest.mark.parametrize('heading, expected', [
    ('Train on MNIST, CelebA or your own images', 'train-on-mnist-celeba-or-your-own-images'),
    ('Levers, each against the step as it runs and PyTorch, in the same run',
     'levers-each-against-the-step-as-it-runs-and-pytorch-in-the-same-run'),
    ('Keep a face: `face_NNN.npy` and `--z`', 'keep-a-face-face_nnnnpy-and---z'),
    ('Memorisation: `evaluate --nearest`', 'memorisation-evaluate---nearest'),
    ('app/ — the application', 'app--the-application'),
    ('Why batch 16 and learning rate 0.0005', 'why-batch-16-and-learning-rate-00005'),
    ('See [the metric](metric.md) *now*', 'see-the-metric-now'),
])
def test_slug_is_githubs(heading, expected):
    assert slug(heading) == expected


def test_repeated_headings_are_numbered(tmp_path):
    page = tmp_path / 'page.md'
    page.write_text('# Notes\n\n## Run\n\n```\n# Run\n```\n\n## Run\n\nSetext\n------\n\n[a](#run-1) [b](#setext)\n')
    assert {'notes', 'run', 'run-1', 'setext'} == anchors(str(page))
    assert broken_links(str(page)) == []


def test_a_broken_link_is_found(tmp_path):
    (tmp_path / 'other.md').write_text('# Other page\n')
    page = tmp_path / 'page.md'
    page.write_text('# Page\n\n[fine](other.md#other-page) [gone](missing.md) [no heading](other.md#nowhere)\n'
                    '[in page](#nope) <img src="missing.png"> `[code](not-a-link.md)` [web](https://example.com)\n')
    problems = broken_links(str(page))
    assert [problem.split(': ')[1] for problem in problems] == [
        'missing.md', 'other.md#nowhere', '#nope', 'missing.png'], problems
