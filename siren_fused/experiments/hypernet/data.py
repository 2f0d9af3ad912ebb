"""Small images for learning a space of SIRENs, split into train and test by source, and the context pixels a set
encoder sees.

The paper trains on CelebA at 32 x 32, which nothing offline ships. The default here is 32 x 32 tiles cut from
scikit-image's colour photos at several scales (tiles of a photo overlap, tiles of two photos never do), with
whole photos held out for the test split; ``faces`` are scikit-image's LFW subset (25 x 25 grey, resized); a
folder of the user's images gives one image per file, centre-cropped square and resized. Values are in [-1, 1],
pixels in the row-major order of :func:`siren_fused.experiments.images.data.pixel_grid`.

Context sampling follows the release's ``ImageGeneralizationWrapper``: in training, each image shows the set
encoder a random number of pixels between ``context_min`` and ``context_max`` (as ``context_max`` random pixels of
which a mask keeps the first ones); in testing, a fixed number of distinct random pixels, or all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from ..images.data import IMAGE_FILE, pixel_grid
from ..training_loop import SeededBatches
from ..user_errors import InputFileError, reading

DATASETS = ("photos", "faces")
# scikit-image's colour photos that load without a download (chelsea and cat are the same photo: one of them).
PHOTOS = ("astronaut", "chelsea", "coffee", "hubble_deep_field", "immunohistochemistry", "retina", "rocket")
TEST_PHOTOS = ("chelsea",)  # a natural photo, like the astronaut, coffee and rocket the model trains on
PHOTO_SCALES = (64, 128, 256)  # the photo's shorter side before tiling: coarse to fine detail
MIN_TILE_STD = 0.02  # of intensities in [0, 1]: drops flat tiles (sky, black background), unlike any face photo
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".webp")


@dataclass
class ImageSet:
    """``images [M, S, S, C]`` float32 in [-1, 1] and, per image, the name of its source (photo or file)."""

    images: torch.Tensor
    sources: List[str]

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def size(self) -> int:
        return self.images.shape[1]

    @property
    def channels(self) -> int:
        return self.images.shape[-1]

    def pixels(self) -> torch.Tensor:
        """``[M, S*S, C]``: every image's pixel values in :func:`pixel_grid` order."""
        return self.images.reshape(len(self), -1, self.channels)

    def check_shape(self, channels: int, size: int) -> None:
        """Raises where the images are not ``size``px with ``channels`` channels (what a config was made for)."""
        if self.channels != channels or self.size != size:
            raise ValueError(f"config is for {size}px images with {channels} channels, the images are "
                             f"{self.size}px with {self.channels}")

    def subset(self, index: Sequence[int]) -> "ImageSet":
        return ImageSet(self.images[list(index)], [self.sources[i] for i in index])


@dataclass
class Split:
    train: ImageSet
    test: ImageSet


def _square_resized(image: np.ndarray, size: int) -> np.ndarray:
    """The centred square crop of ``image [H, W, C]`` resized to ``size`` x ``size``."""
    import skimage.transform

    side = min(image.shape[:2])
    top, left = (image.shape[0] - side) // 2, (image.shape[1] - side) // 2
    return skimage.transform.resize(image[top:top + side, left:left + side], (size, size), anti_aliasing=True)


def _as_rgb(image: np.ndarray) -> np.ndarray:
    """``[H, W, 3]`` floats in [0, 1]: grey replicated, alpha dropped."""
    import skimage.util

    image = skimage.util.img_as_float(np.asarray(image))
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    return image[..., :3]


def photo_tiles(photo: np.ndarray, size: int, scales: Sequence[int] = PHOTO_SCALES) -> np.ndarray:
    """``[T, size, size, 3]`` tiles of an RGB photo in [0, 1]: the photo resized to each shorter side in ``scales``
    and cut into tiles half a tile apart; flat tiles (standard deviation below ``MIN_TILE_STD``) dropped."""
    import skimage.transform

    tiles = []
    for short_side in scales:
        factor = short_side / min(photo.shape[:2])
        shape = (max(size, round(photo.shape[0] * factor)), max(size, round(photo.shape[1] * factor)))
        scaled = skimage.transform.resize(photo, shape, anti_aliasing=True)
        stride = max(1, size // 2)
        for top in range(0, shape[0] - size + 1, stride):
            for left in range(0, shape[1] - size + 1, stride):
                tile = scaled[top:top + size, left:left + size]
                if tile.std() >= MIN_TILE_STD:
                    tiles.append(tile)
    return np.stack(tiles) if tiles else np.zeros((0, size, size, 3))


def _image_set(arrays: Dict[str, np.ndarray]) -> ImageSet:
    """An ImageSet from ``{source: [T, S, S, C] in [0, 1]}``, in the dict's order."""
    images = np.concatenate(list(arrays.values())) * 2.0 - 1.0
    sources = [name for name, tiles in arrays.items() for _ in range(len(tiles))]
    return ImageSet(torch.from_numpy(images.astype(np.float32)), sources)


def load_photos(size: int, test_photos: Sequence[str] = TEST_PHOTOS, photos: Sequence[str] = PHOTOS) -> Split:
    """Tiles of scikit-image's colour photos; the tiles of ``test_photos`` are the test split, all others train."""
    import skimage.data

    unknown = sorted(set(test_photos) - set(photos))
    if unknown:
        raise ValueError(f"test photos {unknown} are not among the photos {list(photos)}")
    tiles = {name: photo_tiles(_as_rgb(getattr(skimage.data, name)()), size) for name in photos}
    return Split(_image_set({name: tiles[name] for name in photos if name not in test_photos}),
                 _image_set({name: tiles[name] for name in test_photos}))


def split_by_source(images: ImageSet, test_fraction: float, seed: int = 0) -> Split:
    """Whole sources (files, faces) to the test split, a seeded random ``test_fraction`` of them (at least one,
    and at least one left for training)."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    names = sorted(set(images.sources))
    if len(names) < 2:
        raise InputFileError(f"a train/test split needs at least 2 images, got {len(names)}")
    order = torch.randperm(len(names), generator=torch.Generator().manual_seed(seed)).tolist()
    count = min(len(names) - 1, max(1, round(test_fraction * len(names))))
    test_names = {names[i] for i in order[:count]}
    test = [i for i, source in enumerate(images.sources) if source in test_names]
    train = [i for i, source in enumerate(images.sources) if source not in test_names]
    return Split(images.subset(train), images.subset(test))


def load_faces(size: int) -> ImageSet:
    """The 100 faces of scikit-image's LFW subset (rows 0-99 of ``lfw_subset()``), grey, resized to ``size``."""
    import skimage.data

    faces = skimage.data.lfw_subset()[:100]
    resized = np.stack([_square_resized(face[..., None], size) for face in faces])
    return _image_set({f"face {i:03d}": resized[i:i + 1] for i in range(len(resized))})


def load_folder(folder: Path, size: int) -> ImageSet:
    """Every image file in ``folder`` (not its subfolders), RGB, centre-cropped square and resized to ``size``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputFileError(f"images folder {str(folder)!r} does not exist (or is not a folder)")
    files = sorted(path for path in folder.iterdir() if path.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InputFileError(f"images folder {str(folder)!r} has no image files ({', '.join(IMAGE_SUFFIXES)})")
    return _image_set({path.name: _read_image(path, size) for path in files})


def _read_image(path: Path, size: int) -> np.ndarray:
    """One image file as ``[1, size, size, 3]``, or an :class:`InputFileError` naming it."""
    import skimage.io

    with reading(path, IMAGE_FILE):
        return _square_resized(_as_rgb(skimage.io.imread(path)), size)[None]


def load_split(dataset: str, size: int, images: Optional[Path] = None, test_fraction: float = 0.2,
               test_photos: Sequence[str] = TEST_PHOTOS) -> Split:
    """The train and test images: a folder of the user's (``images``), else ``dataset`` (photos or faces)."""
    if images is not None:
        return split_by_source(load_folder(images, size), test_fraction)
    if dataset == "photos":
        return load_photos(size, test_photos)
    if dataset == "faces":
        return split_by_source(load_faces(size), test_fraction)
    raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")


@dataclass
class ContextBatch:
    """B images' context pixels (``coords [B, M, 2]``, ``values [B, M, C]``, ``mask [B, M]``, true where the set
    encoder sees the pixel) and their every pixel (``pixels [B, S*S, C]``, the reconstruction target)."""

    coords: torch.Tensor
    values: torch.Tensor
    mask: torch.Tensor
    pixels: torch.Tensor


def context_batch(pixels: torch.Tensor, grid: torch.Tensor, index: torch.Tensor, counts: torch.Tensor) -> ContextBatch:
    """``pixels [B, N, C]`` with their context: image b shows ``counts[b]`` of the pixels ``index[b]`` (the first)."""
    mask = torch.arange(index.shape[1]) < counts[:, None]
    values = torch.gather(pixels, 1, index[..., None].expand(-1, -1, pixels.shape[-1]))
    return ContextBatch(grid[index], values, mask, pixels)


def random_pixels(batch: int, pixels: int, count: int, generator: torch.Generator) -> torch.Tensor:
    """``[batch, count]`` distinct random pixel indices per row."""
    return torch.rand(batch, pixels, generator=generator).argsort(dim=1)[:, :count]


class ContextBatches(SeededBatches):
    """Training batches: ``batch`` random train images, each with between ``context_min`` and ``context_max``
    random context pixels (uniform, both ends included)."""

    def __init__(self, images: ImageSet, batch: int, context_min: int, context_max: int, seed: int) -> None:
        super().__init__(seed)
        pixel_count = images.size ** 2
        if not 1 <= context_min <= context_max <= pixel_count:
            raise ValueError(f"context pixels must satisfy 1 <= min <= max <= {pixel_count}, got {context_min} "
                             f"and {context_max}")
        if batch < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        self.pixels = images.pixels()
        self.grid = pixel_grid(images.size)
        self.batch, self.context_min, self.context_max = batch, context_min, context_max

    def next(self) -> ContextBatch:
        chosen = torch.randint(0, self.pixels.shape[0], (self.batch,), generator=self.generator)
        index = random_pixels(self.batch, self.pixels.shape[1], self.context_max, self.generator)
        counts = torch.randint(self.context_min, self.context_max + 1, (self.batch,), generator=self.generator)
        return context_batch(self.pixels[chosen], self.grid, index, counts)


def evaluation_context(images: ImageSet, count: int, seed: int) -> ContextBatch:
    """Every image of ``images`` with ``count`` distinct random context pixels (all of them when ``count`` covers
    the image), the same for a given ``seed``: each model is scored on the same pixels."""
    pixels = images.pixels()
    count = min(count, pixels.shape[1])
    index = random_pixels(len(images), pixels.shape[1], count, torch.Generator().manual_seed(seed))
    return context_batch(pixels, pixel_grid(images.size), index, torch.full((len(images),), count))
