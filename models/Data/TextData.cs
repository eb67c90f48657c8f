using KernelLab.Backends;

namespace KernelLab.Models.Data;

/// <summary>
/// Text as bytes: the files of a <see cref="TextSpec"/> concatenated, the last floor(L * validation_fraction) bytes the
/// validation split, each split cut into windows of T token ids and the T that follow them.
/// </summary>
internal sealed class TextData : TrainingData
{
    /// <summary>Where Debian's fortunes installs its files, for the message when one is missing.</summary>
    private const string FortunesFolder = "/usr/share/games/fortunes";

    private readonly Windows _training;
    private readonly Windows _validation;
    private readonly int _files;

    private TextData(Windows training, Windows validation, int files, BatchShape shape) : base(training, shape)
    {
        _training = training;
        _validation = validation;
        _files = files;
    }

    public static TextData Load(TextSpec spec, BatchShape shape)
    {
        string[] paths = spec.Files.SelectMany(FilesOf).ToArray();
        var contents = new List<byte[]>(paths.Length);
        long length = 0;
        foreach (string path in paths)
        {
            byte[] content = InputFile.ReadBytes(path, "text file");
            int nul = Array.IndexOf(content, (byte)0);
            if (nul >= 0)
                throw new KernelLabException($"{path}: byte {nul:N0} is NUL: not a text file");
            length += content.Length;
            if (length > Array.MaxLength)
                throw new KernelLabException($"{path}: the text files up to this one hold {length:N0} bytes, more than one array holds ({Array.MaxLength:N0})");
            contents.Add(content);
        }
        var bytes = new byte[length];
        int offset = 0;
        foreach (byte[] content in contents)
        {
            content.CopyTo(bytes, offset);
            offset += content.Length;
        }

        int validation = (int)Math.Floor(bytes.Length * spec.ValidationFraction);
        var training = new Windows(bytes, 0, bytes.Length - validation, shape.Steps);
        var held = new Windows(bytes, bytes.Length - validation, validation, shape.Steps);
        string where = string.Join(", ", spec.Files);
        long needed = (long)shape.Batch * shape.Steps + 1;
        foreach (var (split, windows) in new[] { ("training", training), ("validation", held) })
            if (windows.Count < shape.Batch)
                throw new KernelLabException($"{where}: the {split} split of the {bytes.Length:N0} bytes is {windows.Length:N0} bytes, fewer than the {needed:N0} " +
                    $"that one batch of {shape.Batch} windows of {shape.Steps} needs (B*T + 1)");
        return new TextData(training, held, paths.Length, shape);
    }

    public override string Describe() =>
        $"{TextSpec.Name}: {_files} file{(_files == 1 ? "" : "s")}, {_training.Length:N0} training bytes ({TrainingExamples:N0} windows of {Shape.Steps}), " +
        $"{_validation.Length:N0} validation bytes";

    private protected override Examples? Held(Split split) => split == Split.Validation ? _validation : null;

    /// <summary>
    /// The files an entry of 'files' means: itself, or a folder's regular files (no symlinks, no fortune .dat indexes, not
    /// recursive) in ordinal name order.
    /// </summary>
    private static string[] FilesOf(string entry)
    {
        if (File.Exists(entry))
            return [entry];
        if (!Directory.Exists(entry))
        {
            string full = Path.GetFullPath(entry);
            bool fortunes = full == FortunesFolder || full.StartsWith(FortunesFolder + "/", StringComparison.Ordinal);
            throw NotFound(entry, fortunes ? "fortunes" : null);
        }
        try
        {
            string[] files = new DirectoryInfo(entry).EnumerateFiles()
                .Where(f => f.LinkTarget is null && f.Extension != ".dat")
                .Select(f => f.Name)
                .Order(StringComparer.Ordinal)
                .Select(name => Path.Combine(entry, name))
                .ToArray();
            return files.Length > 0
                ? files
                : throw new KernelLabException($"{entry}: no text files (regular files other than .dat indexes and symlinks)");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new KernelLabException($"{entry}: cannot list the folder: {e.Message}", e);
        }
    }

    /// <summary>The windows of a split of <paramref name="length"/> bytes from <paramref name="start"/>: floor((length - 1) / T) of them.</summary>
    private sealed class Windows(byte[] bytes, int start, int length, int steps) : Examples
    {
        public int Length => length;

        public override int Count { get; } = length >= 1 ? (length - 1) / steps : 0;

        public override bool Padded => false;

        public override bool Fits(Batch batch) =>
            batch.Tokens?.Length == batch.Shape.Batch * steps && batch.Targets.Length == batch.Shape.Batch * steps;

        /// <summary>x = bytes[i*T, i*T + T), y = bytes[i*T + 1, i*T + T + 1) of the split, as sample <paramref name="slot"/> of [B, T].</summary>
        public override void CopyTo(int example, Batch batch, int slot)
        {
            int offset = start + example * steps;
            var x = batch.Tokens.AsSpan(slot * steps, steps);
            var y = batch.Targets.AsSpan(slot * steps, steps);
            for (int t = 0; t < steps; t++)
            {
                x[t] = bytes[offset + t];
                y[t] = bytes[offset + t + 1];
            }
        }
    }
}
