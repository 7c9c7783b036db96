import pytest


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny models run far faster on one thread when other processes share the two cores."""
    try:
        import torch
    except ImportError:
        yield
        return
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
