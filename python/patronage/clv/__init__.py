"""Customer lifetime value: buy-till-you-die models, CLV and segmentation."""
