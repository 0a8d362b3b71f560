"""
Showing a picture while a run goes on, wherever it runs: inline in a notebook (Jupyter, VS Code),
in one window that updates without waiting on a desktop, and not at all without a display (a run
saves its pictures in its folder all the same). pyplot.show() alone would stop a script until its
window was closed, at every grid; here nothing waits on the learner.
"""
from matplotlib import pyplot
from PIL import Image

# matplotlib's backends that draw to files only: no display here
FILE_BACKENDS = ('agg', 'pdf', 'ps', 'svg', 'cairo', 'template', 'pgf')
WINDOW = 'Generated faces'  # the desktop window's title: one window, redrawn at each grid


def available():
    """:return: Whether a picture can be shown here: a notebook's inline backend, or a desktop's window"""
    return pyplot.get_backend().lower() not in FILE_BACKENDS


def inline():
    """:return: Whether pictures show inline in a notebook (Jupyter's and VS Code's backend)"""
    return 'inline' in pyplot.get_backend().lower()


def show_grid(grid, image_mode):
    """
    Show a grid of images: inline in a notebook; on a desktop in the WINDOW, redrawn without waiting
    :param grid: PIL image (helper.images_square_grid's)
    :param image_mode: 'RGB' or 'L' (shown in gray)
    """
    if not available():
        return
    figure = pyplot.figure() if inline() else pyplot.figure(WINDOW)
    figure.clf()
    axes = figure.add_subplot()
    axes.imshow(grid, cmap=None if image_mode == 'RGB' else 'gray')
    axes.axis('off')
    if inline():
        pyplot.show()
    else:
        pyplot.show(block=False)
        pyplot.pause(0.05)  # draw it now; the run goes on


def show_picture(path):
    """Show a saved picture (a PNG) as show_grid shows a grid: inline, in the window, or not at all."""
    if available():
        with Image.open(path) as picture:
            show_grid(picture.convert('RGB'), 'RGB')
