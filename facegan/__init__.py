"""
The machinery beneath the notebook (dlnd_face_generation.py) and helper.py, one job a module.
Imports only go down: the notebook and helper import this package; it never imports them.

    errors             the problems a user can fix, each a one-line message
    interrupts         Ctrl-C, kill and a closed terminal: one line, or a checkpoint first
    tensorflow_setup   TensorFlow 1 graph mode on TensorFlow 2, quiet; the session for this CPU
    safe_files         writing files safely: temporary names, locks, leftovers, full disks
    downloads          MNIST and CelebA: verified, resumable downloads
    archives           extracting them (IDX gzip and zip) into a folder of images
    synthetic_faces    drawn CelebA-shaped faces, for a run without a download
    images             reading one image file, whatever it holds
    image_cache        every image preprocessed once into a memory-mapped array
    pictures           grids and PNGs of generated and real images
    fast_layers        tf.layers.conv2d_transpose as matrix products, switched on around a graph
    batch_norm         the generator's batch-norm averages recomputed from its weights
    checkpoints        saving and finding checkpoints that survive crashes and full disks
    discriminator_view D(x) and D(G(z)) of each step, found in d_loss's graph
    run_log            losses.csv, swd.csv, sample grids and TensorBoard
    run_plots          the loss curve (smoothed, as TensorBoard smooths) and the animated samples
    sliced_wasserstein the sample-quality score
    learner_code       calling the notebook's generator: it works, or one line says what it expected
    training_run       everything around train()'s loop: session, schedule, saving, scores
    generation         drawing faces from a checkpoint (`generate`) and scoring them (`evaluate`)
    command_line       the flags, turned into the values the notebook's cells use
    problem_harness    the machinery of problem_unittests.py: calling a learner's code, stand-ins
"""
