using System.Text.Json;
using KernelLab.Backends;

namespace KernelLab.Models.Data;

/// <summary>
/// The <c>"data"</c> of a suite workload that is trained to a target (shared/spec/SUITES.md, "Training to a target on
/// real data"; the recipe in models/Data/README.md). Parsing checks the fields only: the files are read by
/// <see cref="TrainingData.Load"/> when the run starts, so that a missing data set fails that run, not the suite.
/// </summary>
public abstract record DataSpec
{
    /// <summary>Reads a data object; <paramref name="source"/> names where it came from in error messages.</summary>
    public static DataSpec Parse(JsonElement json, string source)
    {
        var f = new JsonFields(json, source);
        string dataset = f.String("dataset");
        switch (dataset)
        {
            case FashionMnistSpec.Name:
                f.AllowOnly("dataset", "validation", "path", "augment");
                int validation = f.Int("validation");
                if (validation >= FashionMnistSpec.TrainingImages)
                    throw new KernelLabException($"{source}: 'validation' is {validation}, expected an integer in [1, {FashionMnistSpec.TrainingImages - 1}] " +
                        $"(of the {FashionMnistSpec.TrainingImages} training images, the last 'validation' are held out)");
                string folder = f.Has("path") ? f.String("path") : FashionMnistSpec.DefaultFolder;
                if (folder.Length == 0)
                    throw new KernelLabException($"{source}: 'path' is empty, expected the folder of the four IDX files");
                return new FashionMnistSpec(validation, folder, f.Has("augment") ? Augment.Parse(f.Element("augment"), $"{source}: 'augment'", FashionMnistSpec.Side) : null);
            case TextSpec.Name:
                if (f.Has("augment"))
                    throw new KernelLabException($"{source}: 'augment' is given, but text data has no images to augment");
                f.AllowOnly("dataset", "files", "validation_fraction");
                string[] files = f.StringArray("files", minLength: 1);
                int empty = Array.IndexOf(files, "");
                if (empty >= 0)
                    throw new KernelLabException($"{source}: 'files[{empty}]' is empty, expected a file or a folder");
                double fraction = f.Number("validation_fraction");
                if (!(fraction > 0 && fraction < 1))
                    throw new KernelLabException($"{source}: 'validation_fraction' is {fraction}, expected a number in (0, 1)");
                return new TextSpec(files, fraction);
            default:
                throw new KernelLabException($"{source}: unknown dataset '{dataset}': expected one of {FashionMnistSpec.Name}, {TextSpec.Name}");
        }
    }

    /// <summary>
    /// Throws the one-line error where <paramref name="model"/> cannot read the data set's examples (an mlp of the wrong
    /// input size, an image model on text); <paramref name="source"/> names the workload.
    /// </summary>
    public static void CheckModel(DataSpec spec, ModelConfig model, string source)
    {
        if (Mismatch(spec, model) is { } problem)
            throw new KernelLabException($"{source}: 'model': {problem}");
    }

    /// <summary>Why <paramref name="model"/> cannot read the data set, naming its field; null where it can.</summary>
    internal static string? Mismatch(DataSpec spec, ModelConfig model) => (spec, model) switch
    {
        (FashionMnistSpec, MlpConfig m) when m.Sizes[0] != FashionMnistSpec.Pixels =>
            $"sizes[0] is {m.Sizes[0]}, but fashion-mnist images have {FashionMnistSpec.Pixels} pixels",
        (FashionMnistSpec, MlpConfig m) when m.Classes != FashionMnistSpec.Classes =>
            $"sizes[{m.Sizes.Count - 1}] is {m.Classes}, but fashion-mnist has {FashionMnistSpec.Classes} classes",
        (FashionMnistSpec, CnnConfig c) when c.InChannels != 1 =>
            $"in_channels is {c.InChannels}, but fashion-mnist images have 1 channel",
        (FashionMnistSpec, CnnConfig c) when c.Height != FashionMnistSpec.Side || c.Width != FashionMnistSpec.Side =>
            $"height and width are {c.Height} and {c.Width}, but fashion-mnist images are {FashionMnistSpec.Side}x{FashionMnistSpec.Side}",
        (FashionMnistSpec, CnnConfig c) when c.Classes != FashionMnistSpec.Classes =>
            $"classes is {c.Classes}, but fashion-mnist has {FashionMnistSpec.Classes} classes",
        (FashionMnistSpec, MlpConfig or CnnConfig) => null,
        (FashionMnistSpec, _) =>
            $"family is '{model.Family}', but fashion-mnist holds images: expected mlp or cnn",
        (TextSpec, _) when !model.IsSequence =>
            $"family is '{model.Family}', but text is a sequence of bytes: expected a sequence model",
        (TextSpec, _) when model.Classes < TextSpec.Bytes =>
            $"vocab is {model.Classes}, but text is read as bytes: expected at least {TextSpec.Bytes}",
        _ => null,
    };
}

/// <summary>
/// Data augmentation of training images (models/Data/README.md, "Augmentation"): torchvision's RandomCrop(size, padding=
/// <paramref name="CropPadding"/>) with zero padding (0 for none), then RandomHorizontalFlip(0.5) when <paramref name="HFlip"/>.
/// </summary>
public sealed record Augment(int CropPadding, bool HFlip)
{
    /// <summary>Reads an augment object; <paramref name="side"/> bounds the padding (a crop of more than the image is empty).</summary>
    public static Augment Parse(JsonElement json, string source, int side)
    {
        var f = new JsonFields(json, source);
        f.AllowOnly("crop_padding", "hflip");
        var augment = new Augment(f.Has("crop_padding") ? f.Int("crop_padding") : 0, f.Has("hflip") && f.Bool("hflip"));
        if (augment.CropPadding >= side)
            throw new KernelLabException($"{source}: 'crop_padding' is {augment.CropPadding}, expected an integer in [1, {side - 1}]");
        if (augment is { CropPadding: 0, HFlip: false })
            throw new KernelLabException($"{source}: neither 'crop_padding' nor 'hflip' is set: omit 'augment' for none");
        return augment;
    }
}

/// <summary>
/// Debian's dataset-fashion-mnist: the four gzipped IDX files in <paramref name="Folder"/>; the last
/// <paramref name="Validation"/> of the training images are the validation set; training batches are augmented as
/// <paramref name="Augment"/> says, where it is given.
/// </summary>
public sealed record FashionMnistSpec(int Validation, string Folder, Augment? Augment = null) : DataSpec
{
    public const string Name = "fashion-mnist";

    /// <summary>Where Debian's dataset-fashion-mnist installs the files.</summary>
    public const string DefaultFolder = "/usr/share/datasets/fashion-mnist";

    /// <summary>The package that installs <see cref="DefaultFolder"/>, for the message when it is missing.</summary>
    public const string Package = "dataset-fashion-mnist";

    /// <summary>Images of the released training file: 'validation' must leave at least one of them for training.</summary>
    public const int TrainingImages = 60_000;

    /// <summary>Height and width of an image.</summary>
    public const int Side = 28;

    public const int Pixels = Side * Side;

    public const int Classes = 10;
}

/// <summary>
/// UTF-8 files read as bytes, each of <paramref name="Files"/> a file or a folder of them; the last
/// floor(L * <paramref name="ValidationFraction"/>) of the L bytes are the validation split.
/// </summary>
public sealed record TextSpec(IReadOnlyList<string> Files, double ValidationFraction) : DataSpec
{
    public const string Name = "text";

    /// <summary>Token ids of text: one per byte value.</summary>
    public const int Bytes = 256;
}
