"""
The image files of each dataset of faces a run can train on: CelebA's (once downloaded), the synthetic
faces (drawn on first use) and a folder of one's own images.
"""
import os

from facegan.data.downloads import DATASETS
from facegan.data.images import list_image_files
from facegan.data.synthetic_faces import make_synthetic_faces


def face_files(dataset, data_dir):
    """
    :param dataset: 'celeba', 'synthetic' or 'folder'
    :param data_dir: The data folder; with 'folder', the folder of images
    :return: The dataset's image files, sorted: CelebA's, the synthetic faces (drawn into data_dir on first use)
             or every jpg, jpeg and png under data_dir
    """
    if dataset == 'celeba':
        return list_image_files(os.path.join(data_dir, DATASETS['celeba']['folder']))
    if dataset == 'synthetic':
        return list_image_files(make_synthetic_faces(data_dir))
    if dataset == 'folder':
        return list_image_files(data_dir)
    raise ValueError('no dataset of faces is called {!r}'.format(dataset))
