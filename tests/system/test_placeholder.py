def test_placeholder_build_exists():
    import os
    assert os.path.isdir(os.environ["MPP_BUILD"])
