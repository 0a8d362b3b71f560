"""
The machinery beneath the notebook (dlnd_face_generation.py), helper.py and problem_unittests.py, in
layers; a module imports only from its own layer's package and the layers below it, and nothing
here imports the files above it (the cells hand down the functions the run needs). Importing a
module changes nothing global: the entry points call core/environment.py's prepare() and install
app/interrupts.py's handlers. docs/architecture.md draws the map and says what each module does.

    app/      the application: the command line, training with the run's extras, generate, evaluate
    train/    one training run around train(): its batches, checkpoints, grids, scores, records
    inspect/  drawing from a saved run: restoring its generator, new faces, walks, the checks
    graph/    TensorFlow graph machinery: the learner's functions called safely, the fast layer,
              batch norm's calibration, the averaged generator, checkpoints, sessions
    data/     the datasets: downloads, archives, synthetic faces, image files, the image cache
    output/   files and pictures a run leaves and shows: grids, CSV logs, plots (no TensorFlow)
    metrics/  numbers about images: the sliced Wasserstein distance, nearest neighbours (numpy)
    core/     errors, safe files, settings of a run, what the machine can do, TensorFlow's set-up
"""
