"""Command line: ``ts-resnet fit|validate|test|predict`` (LightningCLI) and ``classify|export|explain``."""
