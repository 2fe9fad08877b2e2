"""A short real training run for the image pretexts: held-out pretext loss, trained vs random init."""

import torch

from multiview.data.image.images import ImageFolderData


def cifar(shared_data, train: int = 512, test: int = 128, batch_size: int = 64) -> ImageFolderData:
    dm = ImageFolderData(str(shared_data / "images" / "cifar10-jpg.tar"), size=32, batch_size=batch_size,
                         train_limit=train, test_limit=test)
    dm.setup("fit")
    return dm


def held_out_loss_before_and_after(model, dm, epochs: int = 3, lr: float = 3e-3) -> tuple[float, float]:
    """The pretext loss on a held-out batch at random init (BatchNorm statistics taken on the
    training images, no weight change) and after ``epochs`` of AdamW on the training images."""
    held_out = next(iter(dm.val_dataloader()))

    def loss() -> float:
        model.eval()
        torch.manual_seed(1)
        with torch.no_grad():
            return float(model.loss(held_out))

    model.train()
    with torch.no_grad():
        for batch in dm.train_dataloader():
            model.loss(batch)
    before = loss()
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    for _ in range(epochs):
        model.train()
        for batch in dm.train_dataloader():
            opt.zero_grad()
            model.loss(batch).backward()
            opt.step()
    return before, loss()
