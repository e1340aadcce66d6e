"""A model whose centring axes depend on its layers: an Embedding (not centred by its layer rule; the
rank rule for a bare parameter would centre it as a Linear [in, out]) feeding a Linear."""
import paddle


class EmbeddingNet(paddle.nn.Layer):
    def __init__(self):
        super().__init__()
        self.embedding = paddle.nn.Embedding(6, 4)
        self.fc = paddle.nn.Linear(4, 3)

    def forward(self, ids):
        return self.fc(self.embedding(ids)).square().mean()


def embedding_after_training(build, steps=3, seed=5):
    """The embedding table after ``steps`` steps of ``build(net)`` (an optimizer) on a fresh net."""
    paddle.seed(seed)
    net = EmbeddingNet()
    opt = build(net)
    for step in range(steps):
        net(paddle.to_tensor([[step, 1, 2]])).backward()
        opt.step()
        opt.clear_grad()
    return net.embedding.weight.numpy()
