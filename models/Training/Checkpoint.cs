using System.Globalization;
using KernelLab.Backends;
using KernelLab.Models.Safetensors;

namespace KernelLab.Models.Training;

/// <summary>
/// A training run's whole state in one safetensors file: every parameter under its state_dict name (so that PyTorch's
/// <c>load_state_dict</c> takes the parameters, ignoring the <c>optimizer.</c> entries), the optimizer's state tensors as
/// <c>optimizer.PARAMETER.STATE</c>, and the position in the data and the run's bookkeeping as <c>__metadata__</c>
/// strings. Tensors keep the backend's precision (F64 on a float64 backend), so that a run resumed from the file goes on
/// bit for bit as if it had never stopped.
/// </summary>
public static class Checkpoint
{
    public const string OptimizerPrefix = "optimizer.";

    /// <summary>The metadata key that marks a file as a checkpoint, and the format's version.</summary>
    public const string FormatKey = "kernellab.checkpoint", FormatVersion = "1";

    public static void Write(string path, ParameterSet parameters, Optimizer optimizer, IReadOnlyDictionary<string, string> metadata)
    {
        var writer = parameters.AddTo(new SafetensorsWriter(), keepPrecision: true);
        foreach (var (name, shape, value) in optimizer.State)
            parameters.AddTensor(writer, OptimizerPrefix + name, shape, value, keepPrecision: true);
        writer.AddMetadata(FormatKey, FormatVersion);
        writer.AddMetadata("optimizer_steps", optimizer.Steps.ToString(CultureInfo.InvariantCulture));
        writer.AddMetadata("learning_rate", optimizer.LearningRate.ToString("R", CultureInfo.InvariantCulture));
        writer.AddMetadata("plateau_best", optimizer.Plateau.Best.ToString("R", CultureInfo.InvariantCulture));
        writer.AddMetadata("plateau_bad_evaluations", optimizer.Plateau.BadEvaluations.ToString(CultureInfo.InvariantCulture));
        foreach (var (key, value) in metadata)
            writer.AddMetadata(key, value);
        writer.Write(path);
    }

    /// <summary>
    /// Copies a checkpoint's parameters and optimizer state in and returns its metadata. A file that is not a checkpoint of
    /// this model and optimizer (a tensor missing, of another shape, or one too many) is one line naming the file and the tensor.
    /// </summary>
    public static IReadOnlyDictionary<string, string> Read(string path, Backend backend, ParameterSet parameters, Optimizer optimizer)
    {
        var file = SafetensorsFile.Read(path);
        if (file.Metadata.GetValueOrDefault(FormatKey) != FormatVersion)
            throw new KernelLabException($"{path}: not a KernelLab checkpoint (its metadata has no \"{FormatKey}\": \"{FormatVersion}\")");
        parameters.ReadFrom(file);
        var expected = parameters.Names.ToHashSet();
        foreach (var (name, shape, value) in optimizer.State)
        {
            backend.CopyIn(value, file.ReadReal(OptimizerPrefix + name, shape.ToArray()));
            expected.Add(OptimizerPrefix + name);
        }
        if (file.Tensors.FirstOrDefault(t => !expected.Contains(t.Name)) is { } extra)
            throw new KernelLabException($"{path}: tensor {SafetensorsFile.Quote(extra.Name)} is not a parameter or optimizer state of this run");
        optimizer.Resume((int)Count(file, "optimizer_steps"), Real(file, "learning_rate"), (Real(file, "plateau_best"), (int)Count(file, "plateau_bad_evaluations")));
        return file.Metadata;
    }

    private static long Count(SafetensorsFile file, string key) =>
        int.TryParse(file.Metadata.GetValueOrDefault(key), CultureInfo.InvariantCulture, out int count) && count >= 0
            ? count : throw new KernelLabException($"{file.Path}: metadata '{key}' is missing or not a count");

    private static double Real(SafetensorsFile file, string key) =>
        double.TryParse(file.Metadata.GetValueOrDefault(key), NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && !double.IsNaN(value)
            ? value : throw new KernelLabException($"{file.Path}: metadata '{key}' is missing or not a number");
}
