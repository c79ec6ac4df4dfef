"""Importers that migrate TensorBoard, W&B, MLflow and SwanLab histories into Swan."""
